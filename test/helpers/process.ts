// A Thalamus server in a child process (`node --import tsx server/main.ts`) on a free
// loopback port: a second instance on the same database, or a worker whose memory a
// test can watch from outside.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ROOT } from '../../lib/config.js';
import { freePort, rssOf } from '../../bench/launch.js';

export { rssOf };

/** Runs `work` while sampling `pid`'s RSS every `everyMs` ms: its result and the highest RSS seen from its start to its end. */
export async function highestRss<T>(pid: number, work: () => Promise<T>, everyMs = 10): Promise<{ result: T; peak: number }> {
  let peak = rssOf(pid);
  const sampler = setInterval(() => { peak = Math.max(peak, rssOf(pid)); }, everyMs);
  try {
    const result = await work();
    return { result, peak: Math.max(peak, rssOf(pid)) };
  } finally {
    clearInterval(sampler);
  }
}

export interface ServerProcess {
  base: string;
  /** The admin listener (/healthz, /readyz, /metrics). */
  admin: string;
  /** The one worker process (the primary forks it), whose memory a test can watch. */
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The worker the primary `pid` forked. */
function workerOf(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return children[0];
  } catch {
    return undefined;
  }
}

/**
 * Starts `server/main.ts` (a primary with one worker, its own admin port) on
 * `databaseUrl` (already migrated) and waits until it answers.
 */
export async function spawnServer(databaseUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort();
  const admin = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env, DATABASE_URL: databaseUrl, THALAMUS_LISTEN: `127.0.0.1:${port}`, THALAMUS_ADMIN_LISTEN: `127.0.0.1:${admin}`,
      THALAMUS_PROCESSES: '1', THALAMUS_LOG_LEVEL: 'warn', ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${base}/`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { await stop(); throw new Error('server did not start within 20 s'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const worker = workerOf(child.pid!);
  if (!worker) { await stop(); throw new Error('could not find the worker process of the server'); }
  return { base, admin: `http://127.0.0.1:${admin}`, pid: worker, child, stop };
}
