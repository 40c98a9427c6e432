// Runs the production entry (`node --import tsx server/main.ts`) as a child process on
// ephemeral loopback ports, and a continuous load against it, for the runtime tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../lib/net.js';
import { readdirSync, readFileSync } from 'node:fs';
import { request, Agent, type Dispatcher } from 'undici';
import { ROOT } from '../../lib/config.js';
import { basic, type Account } from './http.js';

export { freePort };

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `work`, or a rejection naming `what` when it takes longer than `ms`. The timer is
 * cleared when `work` settles, so it never keeps the test's process alive after.
 */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms); });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export interface ClusterProcess {
  child: ChildProcess;
  pid: number;
  base: string;
  admin: string;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL if it is still there after `ms`. */
  stop(ms?: number): Promise<Exit>;
}

/**
 * Spawns the cluster and waits until /readyz answers 200. An `env` value undefined
 * removes the variable; `detached` gives it a process group of its own, as a shell
 * gives a job (so a test can signal the whole group, like Ctrl-C).
 */
export async function startCluster(env: Record<string, string | undefined>, opts: { scheme?: 'http' | 'https'; ready?: boolean; detached?: boolean; host?: string; args?: string[] } = {}): Promise<ClusterProcess> {
  const host = opts.host ?? '127.0.0.1';
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...(opts.args ?? [])], {
    cwd: ROOT,
    env: {
      ...process.env,
      THALAMUS_LISTEN: `${host}:${port}`,
      THALAMUS_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      THALAMUS_PROCESSES: '2',
      THALAMUS_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => { gone = true; });
  const proc: ClusterProcess = {
    child,
    pid: child.pid!,
    base: `${opts.scheme ?? 'http'}://${host}:${port}`,
    admin: `http://127.0.0.1:${adminPort}`,
    output: () => out,
    exited,
    async stop(ms = 15_000) {
      if (!gone) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
  if (opts.ready === false) return proc;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone) throw new Error(`thalamus exited during start-up:\n${out}`);
    if (Date.now() > deadline) { await proc.stop(1000); throw new Error(`thalamus was not ready within 60 s:\n${out}`); }
    const status = await adminGet(proc, '/readyz').then((r) => r.status, () => 0);
    if (status === 200) return proc;
    await sleep(100);
  }
}

export async function adminGet(proc: ClusterProcess, path: string): Promise<{ status: number; text: string }> {
  const res = await request(proc.admin + path, { headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, text: await res.body.text() };
}

/** The value of one unlabelled metric (or the first with the given label text). */
export async function metric(proc: ClusterProcess, name: string): Promise<number> {
  const { text } = await adminGet(proc, '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/** Process ids of the children of `pid` (the workers of a primary), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch { /* the process ended meanwhile */ }
  }
  return out.sort((a, b) => a - b);
}

/** Polls `check` every 100 ms until it is true, failing after `ms`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface Outcome { started: number; ended: number; status: number; error?: string; body: string; method: string; path: string }

/** One request of a load: a GET of `path`, or what `next` returns (a write with a body, a fresh id each time). */
export interface LoadRequest { method?: 'GET' | 'POST' | 'PATCH'; path: string; body?: string }

export interface Load {
  /** Stops issuing requests and resolves once the ones in flight are done. */
  stop(): Promise<Outcome[]>;
  readonly outcomes: Outcome[];
}

/** `concurrency` loops each sending one request after another on keep-alive connections. */
export function startLoad(base: string, opts: { concurrency: number; path: string | (() => LoadRequest); as?: Account; dispatcher?: Dispatcher }): Load {
  const dispatcher = opts.dispatcher ?? new Agent({ connections: opts.concurrency, keepAliveTimeout: 30_000 });
  const outcomes: Outcome[] = [];
  let running = true;
  const headers: Record<string, string> = opts.as ? { authorization: basic(opts.as) } : {};
  const loop = async () => {
    while (running) {
      const started = Date.now();
      const next: LoadRequest = typeof opts.path === 'string' ? { path: opts.path } : opts.path();
      const method = next.method ?? 'GET';
      try {
        const res = await request(base + next.path, { method, body: next.body, headers, dispatcher, headersTimeout: 20_000, bodyTimeout: 20_000 });
        const body = await res.body.text();
        outcomes.push({ started, ended: Date.now(), status: res.statusCode, body, method, path: next.path, error: res.statusCode === 503 ? String(res.headers['retry-after']) : undefined });
      } catch (err) {
        outcomes.push({ started, ended: Date.now(), status: 0, body: '', method, path: next.path, error: (err as { code?: string }).code ?? (err as Error).message });
        await sleep(20);
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency }, loop);
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(loops);
      if (!opts.dispatcher) await (dispatcher as Agent).close();
      return outcomes;
    },
  };
}

/** Counts of outcomes by status (0: transport error, by error code). */
export function tally(outcomes: Outcome[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.status ? String(o.status) : `error:${o.error}`;
    t[key] = (t[key] ?? 0) + 1;
  }
  return t;
}
