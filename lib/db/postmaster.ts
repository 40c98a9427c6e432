// The embedded PostgreSQL server process, run from the binaries directly. It is started
// in a session and process group of its own (detached): Ctrl-C in a terminal signals
// the whole foreground group, and a PostgreSQL in it would shut down at once while the
// workers still drain (their requests would get 503). Its owner stops it, last.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PgAccount } from './pg-account.js';
import { isAlive } from './proc.js';

const READY_TIMEOUT_MS = 60_000;
/** A fast shutdown (SIGINT) that takes longer is made immediate (SIGQUIT), then SIGKILL. */
const STOP_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Only what PostgreSQL needs: the primary's environment holds secrets it must not see. */
function pgEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, LC_ALL: 'C', ...(process.env.TZ ? { TZ: process.env.TZ } : {}) };
}

const runAs = (account: PgAccount | undefined) => (account ? { uid: account.uid, gid: account.gid } : {});

/** postmaster.pid: line 1 the pid, 4 the port, 8 the status ("ready" once it accepts connections, "standby" on a hot standby). */
export interface PidFile { pid: number; port: number; status: string }

export function readPidFile(databaseDir: string): PidFile | undefined {
  let text: string;
  try {
    text = readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  return Number.isInteger(pid) && pid > 0 ? { pid, port: Number(lines[3]), status: (lines[7] ?? '').trim() } : undefined;
}

function tail(file: string): string {
  try { return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n'); } catch { return ''; }
}

/** Whether initdb has made a cluster there (initCluster renames it into place when done). */
export const hasCluster = (databaseDir: string) => existsSync(join(databaseDir, 'PG_VERSION'));

/**
 * Creates the cluster with initdb, as `account`. It is built under a temporary name and
 * renamed, so a start killed half-way leaves no folder that looks like a cluster.
 */
export async function initCluster(initdb: string, databaseDir: string, password: string, account: PgAccount | undefined): Promise<void> {
  const building = `${databaseDir}.initdb`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { mode: 0o700 });
  // initdb reads the superuser's password from a file; this one is readable by it alone.
  const pwfile = join(dirname(databaseDir), `.initdb-password-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (account) { chownSync(building, account.uid, account.gid); chownSync(pwfile, account.uid, account.gid); }
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(initdb, [`--pgdata=${building}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`,
        '--encoding=UTF8', '--locale=C', '--no-instructions'], { ...runAs(account), env: pgEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d; });
      child.stderr.on('data', (d: Buffer) => { out += d; });
      child.once('error', reject);
      child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`initdb failed (${signal ?? `exit code ${code}`}): ${out.trim()}`))));
    });
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  } finally {
    rmSync(pwfile, { force: true });
  }
  renameSync(building, databaseDir);
}

export interface Postmaster {
  pid: number;
  /** Resolves when the process has exited, for whatever reason. */
  exited: Promise<void>;
  /** Fast shutdown; resolves once the process is gone. */
  stop(): Promise<void>;
  /** For a process that is exiting now: asks for a fast shutdown and does not wait. */
  signalStop(): void;
}

export interface PostmasterOptions {
  postgres: string;
  databaseDir: string;
  port: number;
  flags: string[];
  account: PgAccount | undefined;
  /** Its stderr, rewritten at each start: a file, not a pipe, so it outlives its owner. */
  logFile: string;
}

/** Starts the server and resolves once it accepts connections. */
export async function startPostmaster(o: PostmasterOptions): Promise<Postmaster> {
  const out = openSync(o.logFile, 'w', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(o.postgres, ['-D', o.databaseDir, '-p', String(o.port), ...o.flags],
      { ...runAs(o.account), env: pgEnv(), stdio: ['ignore', out, out], detached: true });
  } finally {
    closeSync(out);
  }
  // The primary outlives it by design; nothing here should keep a short script alive.
  child.unref();
  let gone = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => { gone = true; resolve(); });
    child.once('error', () => { gone = true; resolve(); });
  });
  const pid = child.pid;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (gone || pid === undefined) throw new Error(`PostgreSQL exited during start-up:\n${tail(o.logFile)}`);
    const file = readPidFile(o.databaseDir);
    // A hot standby that accepts (read-only) connections says "standby" instead.
    if (file?.pid === pid && (file.status === 'ready' || file.status === 'standby')) break;
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      throw new Error(`PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000} s:\n${tail(o.logFile)}`);
    }
    await sleep(50);
  }
  const signal = (s: NodeJS.Signals) => { if (!gone) try { process.kill(pid, s); } catch { /* gone meanwhile */ } };
  return {
    pid,
    exited,
    signalStop: () => signal('SIGINT'),
    async stop() {
      if (gone) return;
      signal('SIGINT');
      // Timers, unlike the unref'd child, keep the event loop alive until it has exited.
      const quit = setTimeout(() => signal('SIGQUIT'), STOP_TIMEOUT_MS);
      const kill = setTimeout(() => signal('SIGKILL'), STOP_TIMEOUT_MS + 5000);
      await exited;
      clearTimeout(quit);
      clearTimeout(kill);
    },
  };
}

/** Stops a server that is not our child (left by an earlier run): signal, then poll. */
export async function stopPid(pid: number): Promise<void> {
  const send = (s: NodeJS.Signals) => { try { process.kill(pid, s); } catch { /* gone */ } };
  send('SIGINT');
  const started = Date.now();
  let escalated = 0;
  while (isAlive(pid)) {
    const waited = Date.now() - started;
    if (waited > STOP_TIMEOUT_MS && escalated === 0) { send('SIGQUIT'); escalated = 1; }
    if (waited > STOP_TIMEOUT_MS + 5000 && escalated === 1) { send('SIGKILL'); escalated = 2; }
    await sleep(50);
  }
}
