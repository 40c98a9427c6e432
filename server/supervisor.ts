// Supervision of the workers (uWSGI's master does the same): forks them sharing the
// port, re-forks a dead one with backoff, reports a crash loop, replaces them one at a
// time on a reload, and drains them. What each worker last reported (its metrics) is
// kept with it; the primary decides what to do with all of this.
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import type { Logger } from '../lib/log.js';
import type { Snapshot } from '../lib/metrics.js';
import { createRespawnPolicy, CRASH_WINDOW_MS } from './respawn.js';
import { isMessage, type MetricsMessage, type ProbeResult, type StartFailed, type ToWorker } from './ipc.js';

/** A new worker must be listening within this time. */
const START_TIMEOUT_MS = 30_000;

export interface Entry {
  worker: ClusterWorker;
  /** starting: not yet listening; up: serving; retiring: told to drain. */
  state: 'starting' | 'up' | 'retiring';
  /** Forked to replace a dead worker: a failure to start counts as a death too. */
  respawn: boolean;
  snapshot?: Snapshot;
  /** Waiting for this worker's next metrics message. */
  waiters: (() => void)[];
  exited: Promise<void>;
  /** Why it could not start, as it said before exiting. */
  failure?: string;
}

export interface SupervisorOptions {
  log: Logger;
  /** The environment of a new worker (the database, the shared secret). */
  env: () => Record<string, string | undefined>;
  /** Milliseconds a draining worker gets to finish. */
  graceMs: () => number;
  /** A worker's answer to a readiness probe. */
  onProbed(result: ProbeResult): void;
  /** A worker that exits, with its last metrics, so its counters are kept. */
  onRetired(snapshot: Snapshot): void;
  /** Workers die too fast: the primary should stop. */
  onCrashLoop(deaths: number): void;
}

export interface Supervisor {
  /** Forks `n` workers and resolves once all listen; rejects if one does not. */
  start(n: number): Promise<void>;
  /** Replaces the workers one at a time by `n` new ones (a new one listens before an old one drains). */
  replace(n: number): Promise<void>;
  /** Drains every worker and waits for them to exit. */
  drainAll(): Promise<void>;
  entries(): Entry[];
  send(e: Entry, m: ToWorker): void;
  readonly restarts: number;
}

export function createSupervisor(opts: SupervisorOptions): Supervisor {
  const { log } = opts;
  const entries = new Map<number, Entry>();
  const deaths = createRespawnPolicy();
  let stopping = false;
  let restarts = 0;

  const send = (e: Entry, m: ToWorker) => { if (e.worker.isConnected()) e.worker.send(m); };

  function fork(respawn = false): Entry {
    const worker = cluster.fork(opts.env());
    const entry: Entry = { worker, state: 'starting', respawn, waiters: [], exited: Promise.resolve() };
    entry.exited = new Promise((resolve) => worker.once('exit', (code, signal) => { onExit(entry, code, signal); resolve(); }));
    // A message to a worker that is just exiting fails with EPIPE; its exit is handled.
    worker.on('error', (err) => log.warn(`worker ${worker.process.pid}: ${err.message}`));
    worker.on('message', (m) => {
      if (isMessage<ProbeResult>(m, 'thalamus:probed')) { opts.onProbed(m); return; }
      if (isMessage<StartFailed>(m, 'thalamus:start-failed')) { entry.failure = m.reason; return; }
      if (!isMessage<MetricsMessage>(m, 'thalamus:metrics')) return;
      entry.snapshot = m.snapshot;
      entry.waiters.splice(0).forEach((w) => w());
    });
    entries.set(worker.id, entry);
    return entry;
  }

  /** Resolves once the worker listens; rejects if it exits or takes too long first. */
  function listening(e: Entry): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { e.worker.process.kill('SIGKILL'); reject(new Error('did not listen in time')); }, START_TIMEOUT_MS);
      e.worker.once('listening', () => { clearTimeout(timer); e.state = 'up'; resolve(); });
      void e.exited.then(() => { clearTimeout(timer); reject(new Error(e.failure ?? `exited with code ${e.worker.process.exitCode}`)); });
    });
  }

  function onExit(e: Entry, code: number | null, signal: string | null): void {
    entries.delete(e.worker.id);
    e.waiters.splice(0).forEach((w) => w());
    if (e.snapshot) opts.onRetired(e.snapshot);
    if (stopping || e.state === 'retiring' || (e.state === 'starting' && !e.respawn)) return;
    log.error({ worker: e.worker.process.pid, code, signal }, 'worker died');
    const next = deaths.record(Date.now());
    if (next.stop) {
      log.fatal(`crash loop: ${next.deaths} worker deaths within ${CRASH_WINDOW_MS / 1000} s; stopping`);
      opts.onCrashLoop(next.deaths);
      return;
    }
    setTimeout(() => {
      if (stopping) return;
      restarts++;
      listening(fork(true)).catch((err: Error) => log.error(`replacement worker failed: ${err.message}`));
    }, next.delayMs);
  }

  /** Drains one worker and waits for it to exit (killing it if it overstays). */
  async function retire(e: Entry, graceMs: number): Promise<void> {
    e.state = 'retiring';
    send(e, { type: 'thalamus:drain', graceMs });
    const timer = setTimeout(() => e.worker.process.kill('SIGKILL'), graceMs + 5000);
    await e.exited;
    clearTimeout(timer);
  }

  return {
    async start(n) {
      await Promise.all(Array.from({ length: n }, () => listening(fork())));
    },
    async replace(n) {
      const old = [...entries.values()].filter((e) => e.state !== 'retiring');
      for (let i = 0; i < Math.max(old.length, n) && !stopping; i++) {
        if (i < n) await listening(fork());
        if (i < old.length && entries.has(old[i]!.worker.id)) await retire(old[i]!, opts.graceMs());
      }
    },
    async drainAll() {
      stopping = true;
      await Promise.all([...entries.values()].map((e) => retire(e, opts.graceMs())));
    },
    entries: () => [...entries.values()],
    send,
    get restarts() { return restarts; },
  };
}
