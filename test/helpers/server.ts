// Boots the real server for a test file: a database of its own on the test
// PostgreSQL (migrated, with the demo data), and a worker on an ephemeral port.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { migrate, loadDemo } from '../../lib/db/migrate.js';
import { startWorker, type Worker } from '../../server/worker.js';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Connection string of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase { name: string; url: string; pool: pg.Pool; drop(): Promise<void> }

/** A fresh, empty database; `drop()` removes it. */
export async function createDatabase(prefix = 'thalamus_t'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = databaseUrl(name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // DROP DATABASE ... WITH (FORCE) ends whatever is still connected; that is not a failure.
  pool.on('error', () => undefined);
  return {
    name, url, pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const a = new pg.Client({ connectionString: ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

export interface TestServer {
  base: string;
  db: TestDatabase;
  worker: Worker;
  config: Config;
  close(): Promise<void>;
}

/** Starts a worker on a new migrated database holding the demo federation. */
export async function startServer(overrides: Partial<Config> = {}, opts: { demo?: boolean } = {}): Promise<TestServer> {
  const db = await createDatabase();
  await migrate(db.pool);
  if (opts.demo !== false) await loadDemo(db.pool);
  const config: Config = { ...loadConfig(undefined, {}), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', ...overrides };
  const worker = await startWorker(config, db.url, createLogger(process.env.TEST_LOG_LEVEL ?? config.logLevel));
  return {
    base: `http://127.0.0.1:${worker.address.port}`,
    db, worker, config,
    async close() {
      await worker.close(1000);
      await db.drop();
    },
  };
}
