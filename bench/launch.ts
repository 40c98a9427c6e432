// Starts bench/cluster.ts in a child process and waits for its workers to listen. It
// runs compiled (dist-bench/, built by buildBench), as `npm start` runs dist/: without
// tsx's loader, whose ~25 MB would count against the worker's RSS.
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { freePort } from '../lib/net.js';
import { ROOT } from '../lib/config.js';

export { freePort };

/** Compiles bench/tsconfig.json (the launcher, the baseline, lib/ and server/) to dist-bench/. */
export function buildBench(): void {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'bench/tsconfig.json')], { stdio: 'inherit' });
}

export interface Launched { base: string; pids: number[]; stop(): Promise<void> }

/** Resident set size of process `pid` in bytes, from /proc (0 when unknown). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Thalamus or the baseline with `workers` workers on `databaseUrl`; `profDir` turns on --cpu-prof; `env` adds settings (THALAMUS_<KEY>). */
export async function launch(mode: 'thalamus' | 'baseline', databaseUrl: string, workers: number, profDir?: string, env: Record<string, string> = {}): Promise<Launched> {
  const port = await freePort();
  const args = [...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), join(ROOT, 'dist-bench/bench/cluster.js'), mode];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, BENCH_PORT: String(port), BENCH_WORKERS: String(workers), THALAMUS_LOG_JSON: '1', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pids = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${mode} exited with ${code}`)); });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const m = JSON.parse(line) as { ready?: boolean; pids?: number[] };
        if (m.ready) {
          clearTimeout(timer);
          // The request log is still written (the server's cost) but no longer parsed
          // here: this process also runs autocannon, and the baseline logs nothing.
          lines.close();
          child.stdout!.resume();
          resolve(m.pids ?? []);
        }
      } catch { /* not ours */ }
    });
  });
  return {
    base: `http://127.0.0.1:${port}`,
    pids,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
