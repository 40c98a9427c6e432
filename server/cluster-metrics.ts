// The cluster's metrics for /metrics: every live worker is asked for a fresh snapshot
// (waiting at most SNAPSHOT_WAIT_MS for each), and the counters of workers that have
// exited are kept, so totals never go back when a worker is replaced.
import { emptySnapshot, mergeSnapshots, countersOnly, renderPrometheus, type Snapshot } from '../lib/metrics.js';
import type { Supervisor } from './supervisor.js';

const SNAPSHOT_WAIT_MS = 500;

export interface ClusterMetrics {
  /** Keeps the counters of a worker that exited. */
  retire(snapshot: Snapshot): void;
  /** Counts a completed reload. */
  reloaded(): void;
  /** The Prometheus text of the whole cluster. */
  render(): Promise<string>;
}

export function createClusterMetrics(supervisor: () => Supervisor): ClusterMetrics {
  let retired = emptySnapshot();
  let reloads = 0;
  return {
    retire(snapshot) { retired = mergeSnapshots([retired, countersOnly(snapshot)]); },
    reloaded() { reloads++; },
    async render() {
      const s = supervisor();
      await Promise.all(s.entries().map((e) => new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SNAPSHOT_WAIT_MS);
        e.waiters.push(() => { clearTimeout(timer); resolve(); });
        s.send(e, { type: 'thalamus:snapshot' });
      })));
      const entries = s.entries();
      const current = entries.flatMap((e) => (e.snapshot ? [e.snapshot] : []));
      const up = entries.filter((e) => e.state === 'up').length;
      return renderPrometheus(mergeSnapshots([retired, ...current]), { workersUp: up, restarts: s.restarts, reloads });
    },
  };
}
