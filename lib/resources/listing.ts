// Listings: the whole table streamed, or a keyset page (`?limit=N&after=ID`) with a
// `Link: <...>; rel="next"` header when more rows follow.
import type { ResourceContext } from './context.js';
import { errors } from '../http/errors.js';
import { streamRows } from '../http/stream.js';
import { sendJson } from '../http/respond.js';

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
}

export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export async function sendListing(ctx: ResourceContext, listing: Listing): Promise<void> {
  const rawLimit = single(ctx.query.limit);
  const after = single(ctx.query.after);
  const where = (extra: string) => [listing.where, extra].filter(Boolean).join(' AND ');
  if (rawLimit === undefined && after === undefined) {
    if (ctx.head) { await listing.ifEmpty?.(); return sendHead(ctx); }
    const cond = where('');
    const sql = `SELECT ${listing.json} AS j FROM ${listing.table}${cond ? ` WHERE ${cond}` : ''}`;
    await streamRows(ctx.res, ctx.pool, sql, listing.args, {
      legacyRowArrays: ctx.legacyRowArrays, timeout: ctx.listingTimeout, ifEmpty: listing.ifEmpty,
    });
    return;
  }
  const limit = rawLimit === undefined ? ctx.pageLimitMax : /^\d{1,9}$/.test(rawLimit) ? Number(rawLimit) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > ctx.pageLimitMax) {
    throw errors.badQuery(`limit must be a whole number from 1 to ${ctx.pageLimitMax}`);
  }
  if (after !== undefined && (after.length > 255 || after.includes('\0'))) throw errors.badQuery('after is not a valid id');
  const args = [...listing.args];
  let extra = '';
  if (after !== undefined) { args.push(after); extra = `id > $${args.length}`; }
  args.push(limit + 1);
  const cond = where(extra);
  const sql = `SELECT id, ${listing.json} AS j FROM ${listing.table}${cond ? ` WHERE ${cond}` : ''} ORDER BY id LIMIT $${args.length}`;
  // A page is bounded by PAGE_LIMIT_MAX, so it is read whole to know whether more follow.
  const { rows } = await ctx.pool.query<{ id: string; j: string }>(sql, args);
  if (rows.length === 0) await listing.ifEmpty?.();
  const page = rows.slice(0, limit);
  const headers: Record<string, string> = {};
  if (rows.length > limit) {
    const next = `${listing.path}?limit=${limit}&after=${encodeURIComponent(page[page.length - 1]!.id)}`;
    headers.Link = `<${next}>; rel="next"`;
  }
  const wrap = ctx.legacyRowArrays ? (j: string) => `[${j}]` : (j: string) => j;
  sendJson(ctx.res, 200, `[${page.map((r) => wrap(r.j)).join(',')}]`, headers);
}

function sendHead(ctx: ResourceContext): void {
  ctx.res.statusCode = 200;
  ctx.res.setHeader('Content-Type', 'application/json; charset=utf-8');
  ctx.res.end();
}
