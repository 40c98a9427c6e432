// What a listing reads, as plain data: a resource describes its listing (table, projection,
// conditions, the guard its first statement checks) and the engine (listing.ts) executes
// it. Identifiers come from code; everything a client sent is a parameter of a condition.
import type pg from 'pg';
import sql, { join, raw, type Sql } from 'sql-template-tag';
import { run, statement, type Guard } from '../run.js';
import { firstRowsStatement } from './first.js';

export interface ListingPlan {
  /** Table name, from code. */
  table: string;
  /** SQL expression of one element's JSON text. */
  json: string;
  /** Conditions on the rows (none: the whole table); a keyset page's bounds among them. */
  where: Sql[];
  /**
   * The first rows are read in one statement that also checks this guard (first.ts), so
   * most listings take one round trip; the rest come from cursors. Without it, cursors
   * read everything (a keyset page, whose ids were read under the guard: pageEnd()).
   */
  guard?: Guard;
  /** No index gives this listing in id order cheaply: let PostgreSQL sort. */
  sortable?: boolean;
  /**
   * Checked only when the listing has no rows (saves a round trip otherwise): `exists`
   * finds a row when the listing's owner exists; when it finds none, `missing` (a noun:
   * 'Person', 'Page') was not found.
   */
  ifEmpty?: { exists: Sql; missing: string };
}

/** Where a listing's rows come from, as the engine reads them. */
export interface ListingSource {
  pool: pg.Pool;
  /** Selects `id` (unique: the order and the resume point) and `j`, one element's JSON text. */
  sql: Sql;
  /** The first rows' statement (first.ts); without it, cursors read everything. */
  first?: Sql;
  /** Let PostgreSQL sort (see BatchOptions.sortable). */
  sortable?: boolean;
}

const whereOf = (conds: Sql[]) => (conds.length ? sql`WHERE ${join(conds, ' AND ')}` : sql``);

/** The rows of `plan` under `conds` as `id, j`, in no order (the cursors add it). */
export function rowsOf(plan: ListingPlan, conds: Sql[]): Sql {
  return sql`SELECT id, ${raw(plan.json)} AS j FROM ${raw(plan.table)} ${whereOf(conds)}`;
}

/** The statements of `plan` on `pool`; the first rows bring at most `bytes` of text. */
export function sourceOf(pool: pg.Pool, plan: ListingPlan, bytes: number): ListingSource {
  return {
    pool,
    sql: rowsOf(plan, plan.where),
    first: plan.guard && firstRowsStatement(plan.guard, rowsOf(plan, [...plan.where, plan.guard.ok]), bytes),
    sortable: plan.sortable,
  };
}

/** Whether the listing's owner exists (`plan.ifEmpty`), on the primary: a standby may not have it yet. */
export async function ownerExists(primary: pg.Pool, ifEmpty: NonNullable<ListingPlan['ifEmpty']>): Promise<boolean> {
  return (await run(primary, ifEmpty.exists)).length > 0;
}

/**
 * Where a keyset page of `limit` rows of `plan` ends (the id of its last row, undefined
 * when it has none) and whether more follow, read from an index with `guard` in one
 * statement (GuardFailed when it no longer holds).
 */
export async function pageEnd(db: pg.Pool, plan: ListingPlan, guard: Guard, limit: number): Promise<{ last: unknown; more: boolean }> {
  const ids = await run<{ guard_ok: boolean; id: unknown }>(db, statement(guard, [], sql`
    SELECT ${guard.ok} AS guard_ok, p.id FROM (SELECT 1) one LEFT JOIN LATERAL (
      SELECT id FROM ${raw(plan.table)} ${whereOf([...plan.where, guard.ok])} ORDER BY id LIMIT ${limit + 1}) p ON true`));
  const found = ids.filter((r) => r.id !== null);
  return { last: found[Math.min(limit, found.length) - 1]?.id, more: found.length > limit };
}
