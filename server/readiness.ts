// /readyz asks every serving worker to prove that its own pool gives a connection that
// answers within the bound (server/cluster-worker.ts runs lib/db/pool.ts probePool). A
// worker whose pool is exhausted, or whose connections PostgreSQL has ended, is then not
// ready, whatever a separate connection of the primary would say.
import type { Worker } from 'node:cluster';
import type { ProbeRequest, ProbeResult } from './ipc.js';
import type { Supervisor } from './supervisor.js';
import type { DemoPasswords } from './demo-passwords.js';
import type { StartMode } from './start-mode.js';

/** Each worker's pool must give a connection that answers within this bound. */
const READY_TIMEOUT_MS = 1000;

/** What a worker gets beyond the probe's own bound to answer over IPC. */
const IPC_GRACE_MS = 500;

export interface Probes {
  /** Resolves when `worker`'s pool passed within `timeoutMs`; rejects with the reason. */
  ask(worker: Worker, timeoutMs: number): Promise<void>;
  /** Hands a worker's answer to the probe waiting for it. */
  answer(result: ProbeResult): void;
}

export function createProbes(): Probes {
  let nextId = 1;
  const pending = new Map<number, (error?: string) => void>();
  return {
    ask(worker, timeoutMs) {
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        const settle = (error?: string) => {
          clearTimeout(timer);
          pending.delete(id);
          if (error === undefined) resolve(); else reject(new Error(error));
        };
        const timer = setTimeout(() => settle(`worker ${worker.process.pid} did not answer within ${timeoutMs + IPC_GRACE_MS} ms`), timeoutMs + IPC_GRACE_MS);
        pending.set(id, settle);
        if (!worker.isConnected()) { settle(`worker ${worker.process.pid} is not connected`); return; }
        const request: ProbeRequest = { type: 'thalamus:probe', id, timeoutMs };
        worker.send(request, (err: Error | null) => { if (err) settle(`worker ${worker.process.pid}: ${err.message}`); });
      });
    },
    answer(result) {
      pending.get(result.id)?.(result.error);
    },
  };
}

/** Resolves when every serving worker's own pool answers; rejects with the reason otherwise. */
export async function ready(supervisor: Supervisor, probes: Probes): Promise<void> {
  const up = supervisor.entries().filter((e) => e.state === 'up');
  if (!up.length) throw new Error('no worker is serving');
  // Every serving worker's own pool, since the OS spreads requests over all of them.
  const results = await Promise.all(up.map((e) => probes.ask(e.worker, READY_TIMEOUT_MS).then(() => undefined, (err: Error) => ({ pid: e.worker.process.pid, err }))));
  const failed = results.filter((r) => r !== undefined);
  if (failed.length) throw new Error(`${failed[0]!.err.message} (${failed.length} of ${up.length} workers: ${failed.map((f) => f.pid).join(', ')})`);
}

/**
 * Administrators with a demo password (demo-passwords.ts): in production each makes the
 * cluster unready, so it is not put in service; in development (the quick start, whose
 * root has one by design) they are warnings beside a ready answer. Not ready until the
 * first look is done, so no answer says ready before it was checked.
 */
export function demoReadiness(demo: DemoPasswords, mode: StartMode): string[] {
  demo.refresh();
  const warnings = demo.warnings();
  if (warnings === undefined) throw new Error('checking whether an administrator still has a password of the demo federation');
  if (warnings.length && mode.production.length) throw new Error(warnings.join('; '));
  return warnings;
}
