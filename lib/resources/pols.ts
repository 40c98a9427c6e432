// Pages of Life: a person's book. A page is only ever reached through its own book:
// `/pols/<someone>/<a page of another book>` is a 404, for reads and writes alike.
import { audited, type ResourceContext, type Reply } from './context.js';
import type { AuditEvent } from '../audit/entry.js';
import { errors } from '../http/errors.js';
import { sendListing } from './listing.js';

const PAGE_JSON = `COALESCE(data, '{}'::jsonb)::text`;

function pageEvent(action: AuditEvent['action'], book: string, page: string, status: number): AuditEvent {
  return { action, recordId: page, person: book, status };
}

export async function personExists(ctx: ResourceContext, id: string): Promise<boolean> {
  const { rowCount } = await ctx.pool.query('SELECT 1 FROM people WHERE id = $1', [id]);
  return rowCount === 1;
}

/** The body's `id` and `book`, when present, must name the page and book of the URL. */
function checkPageBody(body: Record<string, unknown>, book: string, page: string): void {
  if (body.id !== undefined && body.id !== page) throw errors.idMismatch('id');
  if (body.book !== undefined && (typeof body.book !== 'string' || body.book.toUpperCase() !== book)) throw errors.idMismatch('book');
}

export async function listBook(ctx: ResourceContext, book: string): Promise<void> {
  const ifEmpty = async () => { if (!(await personExists(ctx, book))) throw errors.notFound('Person'); };
  await sendListing(ctx, { table: 'pols', json: PAGE_JSON, where: 'book = $1', args: [book], path: `/pols/${encodeURIComponent(book)}`, ifEmpty });
}

export async function getPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  const { rows } = await ctx.pool.query<{ j: string }>({ name: 'get-page', text: `SELECT ${PAGE_JSON} AS j FROM pols WHERE id = $1 AND book = $2`, values: [page, book] });
  if (!rows[0]) throw errors.notFound('Page');
  return { status: 200, json: rows[0].j };
}

export async function createPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  checkPageBody(ctx.body, book, page);
  const data = JSON.stringify({ ...ctx.body, id: page, book });
  // The person check and the insert are one statement, so no separate round trip is needed.
  const { rows } = await ctx.pool.query<{ j: string }>(...audited(ctx, pageEvent('create', book, page, 201),
    `INSERT INTO pols (id, book, data) SELECT $1::varchar, $2::varchar, $3::jsonb WHERE EXISTS (SELECT 1 FROM people WHERE id = $2)
     ON CONFLICT (id) DO NOTHING RETURNING ${PAGE_JSON} AS j`, [page, book, data])).catch((err) => {
    if ((err as { code?: string }).code === '23503') throw errors.notFound('Person');
    throw err;
  });
  if (rows[0]) return { status: 201, json: rows[0].j, headers: { Location: `/pols/${encodeURIComponent(book)}/${encodeURIComponent(page)}` } };
  if (!(await personExists(ctx, book))) throw errors.notFound('Person');
  throw errors.exists('Page');
}

export async function patchPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  checkPageBody(ctx.body, book, page);
  const { rows } = await ctx.pool.query<{ j: string }>(...audited(ctx, pageEvent('update', book, page, 200),
    `UPDATE pols SET data = COALESCE(data, '{}'::jsonb) || $3::jsonb WHERE id = $1 AND book = $2 RETURNING ${PAGE_JSON} AS j`,
    [page, book, JSON.stringify({ ...ctx.body, id: page, book })]));
  if (!rows[0]) throw errors.notFound('Page');
  return { status: 200, json: rows[0].j };
}

export async function deletePage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  try {
    const { rowCount } = await ctx.pool.query(...audited(ctx, pageEvent('delete', book, page, 204),
      'DELETE FROM pols WHERE id = $1 AND book = $2 RETURNING id', [page, book]));
    if (!rowCount) throw errors.notFound('Page');
    return { status: 204 };
  } catch (err) {
    if ((err as { code?: string }).code === '23503') throw errors.pageInUse();
    throw err;
  }
}
