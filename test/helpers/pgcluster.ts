// A real PostgreSQL primary and a streaming hot standby made from it with pg_basebackup,
// in a temporary folder, on free loopback ports, run as user postgres when we are root
// (PostgreSQL refuses root). The binaries are the machine's (PG_BIN, else the newest
// /usr/lib/postgresql/<version>/bin that has pg_basebackup): the embedded package ships
// no pg_basebackup. The servers are started and stopped by lib/db/postmaster.ts, each in
// a process group of its own; close() stops both and removes the folder.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../../lib/net.js';
import { pgAccount, type PgAccount } from '../../lib/db/pg-account.js';
import { initCluster, startPostmaster, type Postmaster } from '../../lib/db/postmaster.js';
import { migrate } from '../../lib/db/migrate.js';
import { loadTestDemo } from './server.js';

const NEEDED = ['initdb', 'postgres', 'pg_basebackup'];

/** The folder of the PostgreSQL binaries the bed runs, or an error saying what to install. */
export function pgBinDir(): string {
  const given = process.env.PG_BIN;
  const candidates = given ? [given] : existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`)
    : [];
  const found = candidates.find((dir) => NEEDED.every((b) => existsSync(join(dir, b))));
  if (!found) {
    throw new Error(`the PostgreSQL test bed needs ${NEEDED.join(', ')} (${given ? `PG_BIN=${given}` : 'none found in /usr/lib/postgresql/*/bin'}); ` +
      'install the server package (apt-get install postgresql-15; .ci/run does) or set PG_BIN');
  }
  return found;
}

export type StopMode = 'fast' | 'immediate';

export interface PgNode {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
  /** Connection string of `database` (default federation) on this server alone. */
  url(database?: string): string;
  /** Runs one statement on a client of its own, in `database` (default federation). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, args?: unknown[], database?: string): Promise<pg.QueryResult<R>>;
  running(): boolean;
  start(): Promise<void>;
  /** fast: PostgreSQL's fast shutdown (SIGINT); immediate: SIGQUIT, which is a crash as far as the data goes. */
  stop(mode?: StopMode): Promise<void>;
}

export interface PgCluster {
  primary: PgNode;
  standby: PgNode;
  password: string;
  bin: string;
  close(): Promise<void>;
}

/** Every server's flags: loopback TCP only, no socket file, small. */
const COMMON = ['listen_addresses=127.0.0.1', 'unix_socket_directories=', 'max_connections=120', 'shared_buffers=32MB',
  'wal_level=replica', 'max_wal_senders=5', 'max_replication_slots=5', 'hot_standby=on', 'log_min_messages=warning'];
/** A standby asks the primary to keep the rows its listings still read (no "conflict with recovery" cancels). */
const STANDBY = ['hot_standby_feedback=on'];

const flags = (settings: string[]) => settings.flatMap((s) => ['-c', s]);

const runAs = (account: PgAccount | undefined) => (account ? { uid: account.uid, gid: account.gid } : {});

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, account: PgAccount | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...runAs(account), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.stderr.on('data', (d: Buffer) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(); else reject(new Error(`${cmd} failed (${signal ?? `exit code ${code}`}): ${out.trim()}`));
    });
  });
}

function node(name: string, bin: string, dir: string, port: number, password: string, settings: string[], account: PgAccount | undefined): PgNode {
  let pm: Postmaster | undefined;
  const url = (database = 'federation') => `postgresql://postgres:${password}@127.0.0.1:${port}/${database}`;
  return {
    name, port, dir, url,
    async query(text, args = [], database) {
      const c = new pg.Client({ connectionString: url(database), connectionTimeoutMillis: 5000 });
      c.on('error', () => undefined);
      await c.connect();
      try {
        return await c.query(text, args);
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    running: () => pm !== undefined,
    async start() {
      if (pm) return;
      pm = await startPostmaster({ postgres: join(bin, 'postgres'), databaseDir: dir, port, flags: flags(settings), account, logFile: `${dir}.log` });
      void pm.exited.then(() => { pm = undefined; });
    },
    async stop(mode = 'fast') {
      const server = pm;
      if (!server) return;
      if (mode === 'fast') { await server.stop(); return; }
      const signal = (s: NodeJS.Signals) => { try { process.kill(server.pid, s); } catch { /* gone already */ } };
      signal('SIGQUIT');
      // The timer also keeps the event loop alive while we wait (the server is unref'd).
      const kill = setTimeout(() => signal('SIGKILL'), 10_000);
      await server.exited;
      clearTimeout(kill);
    },
  };
}

/**
 * The primary (initdb, the federation database migrated with the demo data), then the
 * standby: pg_basebackup -R with a replication slot, so a standby stopped for a while
 * finds the WAL it missed when it starts again.
 */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBinDir();
  const account = pgAccount();
  const root = mkdtempSync(join(tmpdir(), 'thalamus-pgcluster-'));
  chmodSync(root, 0o755); // user postgres traverses it
  const password = randomBytes(12).toString('hex');
  const [p1, p2] = [await freePort(), await freePort()];
  const primary = node('primary', bin, join(root, 'primary'), p1, password, COMMON, account);
  const standby = node('standby', bin, join(root, 'standby'), p2, password, [...COMMON, ...STANDBY], account);
  const cluster: PgCluster = {
    primary, standby, password, bin,
    async close() {
      await Promise.all([primary.stop('immediate'), standby.stop('immediate')]);
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await initCluster(join(bin, 'initdb'), primary.dir, password, account);
    await primary.start();
    await primary.query('CREATE DATABASE federation', [], 'postgres');
    const pool = new pg.Pool({ connectionString: primary.url(), max: 1 });
    pool.on('error', () => undefined);
    try {
      await migrate(pool);
      await loadTestDemo(pool);
    } finally {
      await pool.end();
    }
    mkdirSync(standby.dir, { mode: 0o700 });
    if (account) chownSync(standby.dir, account.uid, account.gid);
    await run(join(bin, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(p1), '-U', 'postgres', '-D', standby.dir,
      '-X', 'stream', '-R', '-c', 'fast', '-C', '-S', 'thalamus_standby'],
    { PATH: process.env.PATH, LC_ALL: 'C', PGPASSWORD: password }, account);
    await standby.start();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Resolves once the standby streams from the primary (and, when `sync`, as the synchronous one). */
export async function waitForStreaming(c: PgCluster, sync = false, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { rows } = await c.primary.query<{ state: string; sync_state: string }>('SELECT state, sync_state FROM pg_stat_replication');
    if (rows.some((r) => r.state === 'streaming' && (!sync || r.sync_state === 'sync'))) return;
    if (Date.now() > deadline) throw new Error(`the standby does not stream${sync ? ' synchronously' : ''}: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
