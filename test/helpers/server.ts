// Boots the real server for a test file: a database of its own on the test
// PostgreSQL (migrated, with the demo data), and a worker on an ephemeral port.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { migrate, loadDemo, demoFiles } from '../../lib/db/migrate.js';
import { startHttpServer, type HttpServer } from '../../server/http-server.js';
import type { Resolver } from '../../lib/subscriptions/destination.js';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Connection string of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase { name: string; url: string; pool: pg.Pool; drop(): Promise<void> }

/**
 * A pool for a test, with an 'error' listener: pool.end() resolves before its clients'
 * connections have closed, so a DROP DATABASE ... WITH (FORCE) right after (or anything
 * else ending backends) can still reach them, and an idle client's error is emitted on
 * the pool, which would end the test process without a listener.
 */
export function testPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}

/** Runs one statement on the test server's maintenance database, on a client of its own. */
export async function adminQuery(sql: string, args: unknown[] = []): Promise<pg.QueryResult> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    return await admin.query(sql, args);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** A fresh, empty database; `drop()` removes it (stop every server using it first). */
export async function createDatabase(prefix = 'thalamus_t'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = databaseUrl(name);
  const pool = testPool(url);
  return {
    name, url, pool,
    async drop() {
      await pool.end().catch(() => undefined);
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export interface TestServer {
  base: string;
  db: TestDatabase;
  worker: HttpServer;
  config: Config;
  close(): Promise<void>;
}

/**
 * The demo accounts' argon2id hashes with the default parameters, of the same passwords
 * (gnusolidario for ESPGNU777ORG and ITAPYT999HON, freedom for ARGBUE111FAV), made once
 * with the npm argon2 package as lib/auth/passwords.ts makes them.
 */
const DEMO_ARGON2 = {
  gnusolidario: '$argon2id$v=19$m=19456,p=1,t=2$jSmp8CFjx1tSdu/ctIDbQA$w6LJyE8m6U7pYIay/jh9mgORoQT/TTI+Z5fBO122wiU',
  freedom: '$argon2id$v=19$m=19456,p=1,t=2$qNqOKtj0fRtAuwtTWypGxg$AjrmoegomR4ygPxRFrBsRcB6KmRQtZsEcPWZiSVC6cY',
};

/**
 * Loads the demo federation for a test. Its three accounts come with upstream's bcrypt
 * hashes (cost 12): about 200 ms of CPU each to verify, then an argon2id rehash, on each
 * server's first login of each; across `test:quick` about a fifth of its CPU. Unless
 * `upstreamHashes` (for the tests of bcrypt and of the upgrade), they hold the argon2id
 * hashes above instead: loaded in their place, so that nothing else changes (no update,
 * no change-log row).
 */
export async function loadTestDemo(pool: pg.Pool | pg.Client, opts: { upstreamHashes?: boolean } = {}): Promise<void> {
  if (opts.upstreamHashes) return loadDemo(pool as pg.Pool);
  for (const { name, text } of demoFiles()) {
    const sql = text.replace(/^\('(\w+)', '(.*)"password": "\$2b\$12\$[^"]+"/gm,
      (_, id: string, before: string) => `('${id}', '${before}"password": "${id === 'ARGBUE111FAV' ? DEMO_ARGON2.freedom : DEMO_ARGON2.gnusolidario}"`);
    if (sql.includes('$2b$12$')) throw new Error(`${name}: a demo bcrypt hash was not replaced; update loadTestDemo`);
    await pool.query(sql);
  }
}

/** Starts a worker on a new migrated database holding the demo federation. */
export async function startServer(overrides: Partial<Config> = {}, opts: { demo?: boolean; upstreamHashes?: boolean; resolve?: Resolver } = {}): Promise<TestServer> {
  const db = await createDatabase();
  await migrate(db.pool);
  if (opts.demo !== false) await loadTestDemo(db.pool, { upstreamHashes: opts.upstreamHashes });
  const config: Config = { ...loadConfig(undefined, {}), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', ...overrides };
  const worker = await startHttpServer(config, db.url, createLogger(process.env.TEST_LOG_LEVEL ?? config.logLevel), { resolve: opts.resolve });
  return {
    base: `http://127.0.0.1:${worker.address.port}`,
    db, worker, config,
    async close() {
      await worker.close(1000);
      await db.drop();
    },
  };
}
