// Listings: the whole table streamed, or a keyset page (`?limit=N&after=ID`) with a
// `Link: <...>; rel="next"` header when more rows follow; in id order, under the
// worker's listing gate (lib/http/stream.ts). A resource describes its listing as a
// plan (lib/db/listing/plan.ts) that the listing engine executes: the first rows come
// with the principal's guard in one statement, bounded by rows and by size, so most
// listings (a person's book, a page's documents) are answered by that one round trip;
// the rest of a long one comes from cursors after its last id. Under a guard that allows
// it (the full path's), a listing may be read from the read standby (lib/db/reads.ts).
import type { Sql } from 'sql-template-tag';
import sql from 'sql-template-tag';
import type { ResourceContext } from './context.js';
import { errors } from '../http/errors.js';
import { formatOf } from '../http/shape.js';
import { mayReadAgain, type Reply } from '../http/reply.js';
import { pageEnd, type ListingPlan } from '../db/listing/plan.js';

export interface Listing {
  /** Table name, from code. */
  table: string;
  /** SQL expression of one element's JSON text. */
  json: string;
  /** Conditions on the rows (none: the whole table). */
  where: Sql[];
  /** Path of this listing, for the Link header. */
  path: string;
  /** Checked only when the listing is empty (saves a round trip otherwise): see ListingPlan.ifEmpty. */
  ifEmpty?: ListingPlan['ifEmpty'];
  /** No index gives this listing in id order cheaply: let PostgreSQL sort. */
  sortable?: boolean;
  /** One of upstream's listings: written in the deployment's LISTING_SHAPE (else as objects), NDJSON if asked. */
  upstream?: boolean;
}

export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export async function listingReply(ctx: ResourceContext, l: Listing): Promise<Reply> {
  const rawLimit = single(ctx.query.limit);
  const after = single(ctx.query.after);
  const format = formatOf(ctx.listing.shape === 'rows' && !l.upstream ? 'objects' : ctx.listing.shape);
  const options = {
    format, timeout: ctx.listing.timeout, gate: ctx.listing.gate,
    who: { account: ctx.principal?.id, address: ctx.audit.client ?? undefined }, signal: ctx.left.signal,
  };
  const reads = ctx.guard.standby && ctx.reads.stats().configured ? ctx.reads : undefined;
  const plan = { table: l.table, json: l.json, where: l.where, sortable: l.sortable, ifEmpty: l.ifEmpty };
  if (rawLimit === undefined && after === undefined) {
    return { kind: 'rows', pool: ctx.pool, plan: { ...plan, guard: ctx.guard }, options, reads };
  }
  const limit = rawLimit === undefined ? ctx.listing.pageLimitMax : /^\d{1,9}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > ctx.listing.pageLimitMax) {
    throw errors.badQuery(`limit must be a whole number from 1 to ${ctx.listing.pageLimitMax}`);
  }
  if (after !== undefined && (after.length > 255 || after.includes('\0'))) throw errors.badQuery('after is not a valid id');
  const from: ListingPlan = after === undefined ? plan : { ...plan, where: [...l.where, sql`id > ${after}`] };
  // The page's ids first, from an index (with the guard): where the page ends, and whether more follow.
  const end = reads
    ? await reads.run((db) => pageEnd(db, from, ctx.guard, limit), (err) => mayReadAgain(err))
    : await pageEnd(ctx.pool, from, ctx.guard, limit);
  const headers: Record<string, string> = {};
  if (end.more) headers.Link = `<${l.path}?limit=${limit}&after=${encodeURIComponent(String(end.last))}>; rel="next"`;
  const where = end.last === undefined ? [sql`false`] : [...from.where, sql`id <= ${end.last}`];
  return { kind: 'rows', pool: ctx.pool, plan: { ...from, where }, options: { ...options, headers }, reads };
}
