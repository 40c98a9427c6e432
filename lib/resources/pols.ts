// Pages of Life: a person's book. A page is only ever reached through its own book:
// `/pols/<someone>/<a page of another book>` is a 404, for reads and writes alike.
import { audited, type ResourceContext, type Reply } from './context.js';
import type { AuditEvent } from '../audit/entry.js';
import { errors } from '../http/errors.js';
import { upperAscii } from '../http/params.js';
import { sendListing } from './listing.js';
import sql, { raw } from 'sql-template-tag';
import { createOnce, documentOf, personExists } from './records.js';

export const PAGE_JSON = `COALESCE(data, '{}'::jsonb)::text`;

function pageEvent(action: AuditEvent['action'], book: string, page: string, status: number): AuditEvent {
  return { action, recordId: page, person: book, status };
}

/** The body's `id` and `book`, when present, must name the page and book of the URL. */
function checkPageBody(body: Record<string, unknown>, book: string, page: string): void {
  if (body.id !== undefined && body.id !== page) throw errors.idMismatch('id');
  if (body.book !== undefined && (typeof body.book !== 'string' || upperAscii(body.book) !== book)) throw errors.idMismatch('book');
}

export async function listBook(ctx: ResourceContext, book: string): Promise<void> {
  const ifEmpty = async () => { if (!(await personExists(ctx, book))) throw errors.notFound('Person'); };
  await sendListing(ctx, { table: 'pols', json: PAGE_JSON, where: 'book = $1', args: [book], path: `/pols/${encodeURIComponent(book)}`, ifEmpty, upstream: true });
}

export async function getPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  const { rows } = await ctx.pool.query<{ j: string }>({ name: 'get-page', text: `SELECT ${PAGE_JSON} AS j FROM pols WHERE id = $1 AND book = $2`, values: [page, book] });
  if (!rows[0]) throw errors.notFound('Page');
  return { status: 200, json: rows[0].j };
}

export async function createPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  checkPageBody(ctx.body, book, page);
  // The person check, the insert and its audit row are one statement.
  return createOnce(ctx, {
    table: 'pols', id: page, book, data: documentOf(ctx, page, { book }), strip: false, noun: 'Page',
    event: pageEvent('create', book, page, 201), location: `/pols/${encodeURIComponent(book)}/${encodeURIComponent(page)}`,
  }).catch((err) => {
    if ((err as { code?: string }).code === '23503') throw errors.notFound('Person');
    throw err;
  });
}

export async function patchPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  checkPageBody(ctx.body, book, page);
  const { text, values } = audited(ctx, pageEvent('update', book, page, 200),
    sql`UPDATE pols SET data = COALESCE(data, '{}'::jsonb) || ${documentOf(ctx, page, { book })}
      WHERE id = ${page}::varchar AND book = ${book}::varchar RETURNING ${raw(PAGE_JSON)} AS j`);
  const { rows } = await ctx.pool.query<{ j: string }>(text, values);
  if (!rows[0]) throw errors.notFound('Page');
  return { status: 200, json: rows[0].j };
}

export async function deletePage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  try {
    const { text, values } = audited(ctx, pageEvent('delete', book, page, 204),
      sql`DELETE FROM pols WHERE id = ${page}::varchar AND book = ${book}::varchar RETURNING id`);
    const { rowCount } = await ctx.pool.query(text, values);
    if (!rowCount) throw errors.notFound('Page');
    return { status: 204 };
  } catch (err) {
    if ((err as { code?: string }).code === '23503') throw errors.pageInUse();
    throw err;
  }
}
