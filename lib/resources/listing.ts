// Listings: the whole table streamed, or a keyset page (`?limit=N&after=ID`) with a
// `Link: <...>; rel="next"` header when more rows follow. Both go through
// lib/http/stream.ts, in id order, under the worker's listing gate: a page of large rows
// is as bounded in memory as a whole listing.
import type pg from 'pg';
import type { ResourceContext } from './context.js';
import { errors, HttpError } from '../http/errors.js';
import { streamRows } from '../http/stream.js';
import { formatOf, type ListingFormat } from '../http/shape.js';

export interface Listing {
  /** Table name, from code. */
  table: string;
  /** SQL expression of one element's JSON text. */
  json: string;
  /** Extra WHERE condition over `args`, or ''. */
  where: string;
  args: unknown[];
  /** Path of this listing, for the Link header. */
  path: string;
  /** Checked only when the listing is empty (saves a round trip otherwise); may throw. */
  ifEmpty?: () => Promise<void>;
  /** No index gives this listing in id order cheaply: let PostgreSQL sort. */
  sortable?: boolean;
  /** One of upstream's listings: written in the deployment's LISTING_SHAPE (else as objects), NDJSON if asked. */
  upstream?: boolean;
}

export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

const whereOf = (conds: string[]) => {
  const all = conds.filter(Boolean);
  return all.length ? ` WHERE ${all.join(' AND ')}` : '';
};

export async function sendListing(ctx: ResourceContext, listing: Listing): Promise<void> {
  // The read standby when one keeps up (lib/db/reads.ts); a read it fails before the
  // first byte (it stopped, say) is read again from the primary, and one whose standby
  // connection goes midway goes on there from its last row. Our own refusals are final.
  await ctx.reads.run((pool, fallback) => listFrom(pool, fallback, ctx, listing), (err) => !(err instanceof HttpError) && !ctx.res.headersSent);
}

async function listFrom(pool: pg.Pool, fallback: (() => pg.Pool) | undefined, ctx: ResourceContext, listing: Listing): Promise<void> {
  const rawLimit = single(ctx.query.limit);
  const after = single(ctx.query.after);
  const format = formatOf(ctx.listingShape === 'rows' && !listing.upstream ? 'objects' : ctx.listingShape);
  const stream = (conds: string[], args: unknown[], headers?: Record<string, string>) =>
    streamRows(ctx.res, pool, `SELECT id, ${listing.json} AS j FROM ${listing.table}${whereOf(conds)}`, args, {
      format, timeout: ctx.listingTimeout, ifEmpty: listing.ifEmpty, headers,
      gate: ctx.listings, who: { account: ctx.principal?.id, address: ctx.audit.client ?? undefined }, sortable: listing.sortable, fallback,
    });
  if (rawLimit === undefined && after === undefined) {
    if (ctx.head) { await listing.ifEmpty?.(); return sendHead(ctx, format); }
    return stream([listing.where], listing.args);
  }
  const limit = rawLimit === undefined ? ctx.pageLimitMax : /^\d{1,9}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > ctx.pageLimitMax) {
    throw errors.badQuery(`limit must be a whole number from 1 to ${ctx.pageLimitMax}`);
  }
  if (after !== undefined && (after.length > 255 || after.includes('\0'))) throw errors.badQuery('after is not a valid id');
  const args = [...listing.args];
  const conds = [listing.where];
  if (after !== undefined) { args.push(after); conds.push(`id > $${args.length}`); }
  // The page's ids first, from an index: where the page ends, and whether more follow.
  const { rows: ids } = await pool.query<{ id: unknown }>(
    `SELECT id FROM ${listing.table}${whereOf(conds)} ORDER BY id LIMIT $${args.length + 1}`, [...args, limit + 1]);
  if (ids.length === 0) {
    await listing.ifEmpty?.();
    if (ctx.head) return sendHead(ctx, format);
    return sendText(ctx, format, format.start + format.end);
  }
  const last = ids[Math.min(limit, ids.length) - 1]!.id;
  const headers: Record<string, string> = {};
  if (ids.length > limit) headers.Link = `<${listing.path}?limit=${limit}&after=${encodeURIComponent(String(last))}>; rel="next"`;
  if (ctx.head) return sendHead(ctx, format, headers);
  args.push(last);
  conds.push(`id <= $${args.length}`);
  await stream(conds, args, headers);
}

function sendHead(ctx: ResourceContext, format: ListingFormat, headers: Record<string, string> = {}): void {
  ctx.res.statusCode = 200;
  for (const [k, v] of Object.entries(headers)) ctx.res.setHeader(k, v);
  ctx.res.setHeader('Content-Type', format.contentType);
  ctx.res.end();
}

function sendText(ctx: ResourceContext, format: ListingFormat, text: string): void {
  ctx.res.statusCode = 200;
  ctx.res.setHeader('Content-Type', format.contentType);
  ctx.res.setHeader('Content-Length', Buffer.byteLength(text));
  ctx.res.end(text);
}
