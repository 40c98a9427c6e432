// Listings: the whole table streamed, or a keyset page (`?limit=N&after=ID`) with a
// `Link: <...>; rel="next"` header when more rows follow; in id order, under the
// worker's listing gate (lib/http/stream.ts). The first rows come with the principal's
// guard in one statement, bounded by rows and by size: most listings (a person's book,
// a page's documents) are answered by that one round trip; the rest of a long one
// comes from cursors after its last id. Without a guard (the full path) a listing may
// be read from the read standby (lib/db/reads.ts); the guard is the primary's to check.
import type pg from 'pg';
import sql, { join, raw, type Sql } from 'sql-template-tag';
import type { ResourceContext } from './context.js';
import { errors } from '../http/errors.js';
import { formatOf } from '../http/shape.js';
import { mayReadAgain, type Reply } from '../http/reply.js';
import type { FirstRows, Row } from '../http/batches.js';
import { run, statement, UNGUARDED } from '../db/run.js';

export interface Listing {
  /** Table name, from code. */
  table: string;
  /** SQL expression of one element's JSON text. */
  json: string;
  /** Conditions on the rows (none: the whole table). */
  where: Sql[];
  /** Path of this listing, for the Link header. */
  path: string;
  /** Checked only when the listing is empty (saves a round trip otherwise); may throw. */
  ifEmpty?: () => Promise<void>;
  /** No index gives this listing in id order cheaply: let PostgreSQL sort. */
  sortable?: boolean;
  /** One of upstream's listings: written in the deployment's LISTING_SHAPE (else as objects), NDJSON if asked. */
  upstream?: boolean;
}

/** Rows the first statement may return; more continue from cursors. */
const FIRST_ROWS = 64;

export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

const whereOf = (conds: Sql[]) => (conds.length ? sql`WHERE ${join(conds, ' AND ')}` : sql``);

/** The listing's rows as `id, j`, for the cursors. */
function rowsOf(l: Listing, conds: Sql[]): Sql {
  return sql`SELECT id, ${raw(l.json)} AS j FROM ${raw(l.table)} ${whereOf(conds)}`;
}

/**
 * The first rows, with the guard, in one statement: at most FIRST_ROWS + 1 in id order,
 * each sent only if it is at most `bytes` / (FIRST_ROWS + 1) long, so the statement never
 * brings more than `bytes`. The first row over that size ends the first rows (its text is
 * left in PostgreSQL; the cursors continue from it), so a book of 1 MB pages costs no
 * more here than its ids. A running sum of the sizes (a window function, and the sort it
 * needs) bounded the whole instead, and took a third of the statement's time.
 */
function firstRows(ctx: ResourceContext, l: Listing, conds: Sql[], bytes: number): (pool: pg.Pool) => Promise<FirstRows> {
  const most = Math.max(1, Math.floor(bytes / (FIRST_ROWS + 1)));
  return async (pool) => {
    const rows = await run<{ id: unknown; j: string | null; size: number | null }>(pool, statement(ctx.guard, [], sql`
      SELECT ${ctx.guard.ok} AS guard_ok, x.id, CASE WHEN octet_length(x.j) <= ${most}::int THEN x.j END AS j, octet_length(x.j) AS size
      FROM (SELECT 1) one LEFT JOIN LATERAL (${rowsOf(l, [...conds, ctx.guard.ok])} ORDER BY id LIMIT ${FIRST_ROWS + 1}) x ON true
      ORDER BY x.id`), { prepare: true });
    const found: Row[] = [];
    for (const r of rows) {
      if (r.id === null) break;
      if (r.j === null) return { rows: found, complete: false, largest: r.size ?? undefined };
      found.push({ id: r.id, j: r.j });
    }
    return { rows: found, complete: found.length <= FIRST_ROWS };
  };
}

export async function listingReply(ctx: ResourceContext, l: Listing): Promise<Reply> {
  const rawLimit = single(ctx.query.limit);
  const after = single(ctx.query.after);
  const format = formatOf(ctx.listing.shape === 'rows' && !l.upstream ? 'objects' : ctx.listing.shape);
  const gate = ctx.listing.gate;
  const options = {
    format, timeout: ctx.listing.timeout, ifEmpty: l.ifEmpty, gate, sortable: l.sortable,
    who: { account: ctx.principal?.id, address: ctx.audit.client ?? undefined }, signal: ctx.signal,
  };
  const reads = ctx.guard === UNGUARDED && ctx.reads.stats().configured ? ctx.reads : undefined;
  if (rawLimit === undefined && after === undefined) {
    return { kind: 'rows', source: { pool: ctx.pool, sql: rowsOf(l, l.where), first: firstRows(ctx, l, l.where, gate.settings.batchChars) }, options, reads };
  }
  const limit = rawLimit === undefined ? ctx.listing.pageLimitMax : /^\d{1,9}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > ctx.listing.pageLimitMax) {
    throw errors.badQuery(`limit must be a whole number from 1 to ${ctx.listing.pageLimitMax}`);
  }
  if (after !== undefined && (after.length > 255 || after.includes('\0'))) throw errors.badQuery('after is not a valid id');
  const conds = after === undefined ? [...l.where] : [...l.where, sql`id > ${after}`];
  // The page's ids first, from an index (with the guard): where the page ends, and whether more follow.
  const idsOf = (pool: pg.Pool) => run<{ guard_ok: boolean; id: unknown }>(pool, statement(ctx.guard, [], sql`
    SELECT ${ctx.guard.ok} AS guard_ok, p.id FROM (SELECT 1) one LEFT JOIN LATERAL (
      SELECT id FROM ${raw(l.table)} ${whereOf([...conds, ctx.guard.ok])} ORDER BY id LIMIT ${limit + 1}) p ON true`));
  const ids = reads ? await reads.run(idsOf, (err) => mayReadAgain(err)) : await idsOf(ctx.pool);
  const found = ids.filter((r) => r.id !== null);
  const headers: Record<string, string> = {};
  const last = found[Math.min(limit, found.length) - 1]?.id;
  if (found.length > limit) headers.Link = `<${l.path}?limit=${limit}&after=${encodeURIComponent(String(last))}>; rel="next"`;
  const page = last === undefined ? [sql`false`] : [...conds, sql`id <= ${last}`];
  return { kind: 'rows', source: { pool: ctx.pool, sql: rowsOf(l, page) }, options: { ...options, headers }, reads };
}
