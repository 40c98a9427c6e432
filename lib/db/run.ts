// Running statements, under a guard or not. A guard is a condition a statement checks in
// the same round trip as its work (lib/auth/guard.ts: the principal still stands as it
// was verified); a guarded statement selects a `guard_ok` column, and when that is
// false nothing of the resource was read or written: run() then throws GuardFailed and
// lib/auth/admit.ts answers the request by the full path. Statements run on the full
// path use UNGUARDED, a guard that is always true, and the only one whose reads may go to
// a standby (`standby`): a guard is checked against the primary's present state. A
// guarded statement is made by statement(), and run() refuses one that does not answer
// `guard_ok` (a guard that could never fail); test/api/guarded-routes.test.ts proves every
// guarded route's statements check it.
import crypto from 'node:crypto';
import type pg from 'pg';
import sql, { join, type Sql } from 'sql-template-tag';
import { asDatabaseError } from './errors.js';
import { hasParts, PartsQuery } from './parts.js';

export interface Guard {
  /** CTEs the statement begins with (`g`, the guard's one row), or none. */
  ctes: Sql[];
  /** A boolean expression: the principal still stands. */
  ok: Sql;
  /**
   * Statements under it may read from a hot standby (lib/db/reads.ts): it checks nothing
   * that a standby's replay may not have reached yet. Absent: the primary's.
   */
  standby?: boolean;
}

/** The full path: the principal was just read and verified, on the primary. */
export const UNGUARDED: Guard = { ctes: [], ok: sql`true`, standby: true };

/** The guard no longer holds: answer by the full path. */
export class GuardFailed extends Error {
  constructor() {
    super('the principal changed since it was verified');
  }
}

/** Statements made under a guard with CTEs (a principal's): their result must have a `guard_ok` column. */
const underGuard = new WeakSet<Sql>();

/**
 * `WITH <guard's CTEs>, <ctes> <body>`, or the body alone when there are none. The body
 * selects `${guard.ok} AS guard_ok` in its first row and checks `guard.ok` wherever it
 * reads or writes.
 */
export function statement(guard: Guard, ctes: Sql[], body: Sql): Sql {
  const all = [...guard.ctes, ...ctes];
  if (!all.length) return body;
  const made = sql`WITH ${join(all, ', ')} ${body}`;
  if (guard.ctes.length) underGuard.add(made);
  return made;
}

export interface RunOptions {
  /** Plan once per connection: a named statement, named by its text. */
  prepare?: boolean;
}

const names = new Map<string, string>();
function nameOf(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `t${crypto.createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    if (names.size < 1000) names.set(text, name);
  }
  return name;
}

/** Something statements run on: the pool, or a client in a transaction. */
export interface Queryable { query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> }

/**
 * Runs `statement` and returns its rows; throws GuardFailed when it answers
 * `guard_ok = false` in its first row (a statement under a guard selects that column).
 */
export async function run<R extends pg.QueryResultRow>(db: Queryable, s: Sql, opts: RunOptions = {}): Promise<R[]> {
  const config: pg.QueryConfig = { text: s.text, values: s.values };
  if (opts.prepare) config.name = nameOf(s.text);
  let result: pg.QueryResult<R>;
  try {
    // A statement carrying ByteParts (an upload's bytes) is sent without copying them;
    // node-postgres' pool runs a Query object as it runs a config.
    result = await db.query<R>(hasParts(s.values) ? new PartsQuery<R>(config) as unknown as pg.QueryConfig : config);
  } catch (err) {
    throw asDatabaseError(err);
  }
  if ((result.rows[0] as { guard_ok?: unknown } | undefined)?.guard_ok === false) throw new GuardFailed();
  if (underGuard.has(s) && !result.fields.some((f) => f.name === 'guard_ok')) throw new Error('a guarded statement must select guard_ok');
  return result.rows;
}
