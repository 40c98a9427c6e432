// Migrations: the numbered .sql files of sql/, each applied once, in order, in its own
// transaction, recorded in thalamus_migrations. All are idempotent, so they also run
// cleanly on a database made by upstream's federation_schema.sql.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { ROOT } from '../root.js';
import { checkout } from './pool.js';

const SQL_DIR = join(ROOT, 'sql');
/** Serializes concurrent starts (several instances on one database). */
const LOCK_KEY = 0x7468616c;

export function migrationFiles(dir = SQL_DIR): string[] {
  return readdirSync(dir).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
}

/** Applies what is not yet applied; returns the names it applied. */
export async function migrate(pool: pg.Pool, dir = SQL_DIR): Promise<string[]> {
  const out = await checkout(pool);
  const { client } = out;
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS thalamus_migrations (
      name varchar PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM thalamus_migrations')).rows.map((r) => r.name));
    for (const name of migrationFiles(dir)) {
      if (done.has(name)) continue;
      await client.query('BEGIN');
      try {
        await client.query(readFileSync(join(dir, name), 'utf8'));
        await client.query('INSERT INTO thalamus_migrations (name) VALUES ($1)', [name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${name} failed: ${(err as Error).message}`);
      }
      applied.push(name);
    }
  } finally {
    // A connection that failed took its session, and so the lock, with it.
    let unlocked = !out.failure;
    if (unlocked) await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => { unlocked = false; });
    out.release(!unlocked);
  }
  return applied;
}

/** The migrations not yet applied, in order (`thalamus migrate --dry-run`); changes nothing. */
export async function pendingMigrations(pool: pg.Pool, dir = SQL_DIR): Promise<string[]> {
  const { rows } = await pool.query<{ known: boolean }>(`SELECT to_regclass('thalamus_migrations') IS NOT NULL AS known`);
  const done = rows[0]!.known
    ? new Set((await pool.query<{ name: string }>('SELECT name FROM thalamus_migrations')).rows.map((r) => r.name))
    : new Set<string>();
  return migrationFiles(dir).filter((name) => !done.has(name));
}

/** Loads sql/demo into the database; rows that exist are left as they are. */
export async function loadDemo(pool: pg.Pool): Promise<void> {
  for (const { text } of demoFiles()) await pool.query(text);
}

/** The demo federation's SQL files (sql/demo), in the order they load. */
export function demoFiles(): { name: string; text: string }[] {
  const dir = join(SQL_DIR, 'demo');
  return readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

/** True when the federation holds no person yet. */
export async function isEmpty(pool: pg.Pool): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM people LIMIT 1');
  return rowCount === 0;
}
