// The first rows of a listing in one statement, with the guard: most listings (a person's
// book, a page's documents) are answered by this one round trip; the rest of a long one
// comes from cursors after its last id (batches.ts).
import type pg from 'pg';
import sql, { type Sql } from 'sql-template-tag';
import { run, statement, type Guard } from '../run.js';
import type { Row } from './batches.js';

/** Rows the first statement may return; more continue from cursors. */
export const FIRST_ROWS = 64;

/**
 * The first rows of a listing; `complete` when they are all of it. `largest`: the size of
 * a row the statement left out for its size, when it did.
 */
export interface FirstRows { rows: Row[]; complete: boolean; largest?: number }

/**
 * At most FIRST_ROWS + 1 of `rows` (which checks the guard's condition itself) in id
 * order, each sent only if it is at most `bytes` / (FIRST_ROWS + 1) long, so the statement
 * never brings more than `bytes`. The first row over that size ends the first rows (its
 * text is left in PostgreSQL; the cursors continue from it), so a book of 1 MB pages
 * costs no more here than its ids. A running sum of the sizes (a window function, and
 * the sort it needs) bounded the whole instead, and took a third of the statement's time.
 */
export function firstRowsStatement(guard: Guard, rows: Sql, bytes: number): Sql {
  const most = Math.max(1, Math.floor(bytes / (FIRST_ROWS + 1)));
  return statement(guard, [], sql`
      SELECT ${guard.ok} AS guard_ok, x.id, CASE WHEN octet_length(x.j) <= ${most}::int THEN x.j END AS j, octet_length(x.j) AS size
      FROM (SELECT 1) one LEFT JOIN LATERAL (${rows} ORDER BY id LIMIT ${FIRST_ROWS + 1}) x ON true
      ORDER BY x.id`);
}

/** Runs a firstRowsStatement (a named statement: planned once per connection); GuardFailed when its guard no longer holds. */
export async function readFirstRows(pool: pg.Pool, first: Sql): Promise<FirstRows> {
  const rows = await run<{ id: unknown; j: string | null; size: number | null }>(pool, first, { prepare: true });
  const found: Row[] = [];
  for (const r of rows) {
    if (r.id === null) break;
    if (r.j === null) return { rows: found, complete: false, largest: r.size ?? undefined };
    found.push({ id: r.id, j: r.j });
  }
  return { rows: found, complete: found.length <= FIRST_ROWS };
}
