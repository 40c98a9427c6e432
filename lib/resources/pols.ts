// Pages of Life: a person's book. A page is only ever reached through its own book:
// `/pols/<someone>/<a page of another book>` is a 404, for reads and writes alike.
import sql, { raw } from 'sql-template-tag';
import { audited, type ResourceContext } from './context.js';
import type { AuditEvent } from '../audit/entry.js';
import { errors } from '../http/errors.js';
import { upperAscii } from '../http/params.js';
import { empty, json, type Reply } from '../http/reply.js';
import { run, statement } from '../db/run.js';
import { classifyDbError } from '../db/errors.js';
import { listingReply } from './listing.js';
import { createOnce, documentOf, personRow } from './records.js';

export const PAGE_JSON = `COALESCE(data, '{}'::jsonb)::text`;

function pageEvent(action: AuditEvent['action'], book: string, page: string, status: number): AuditEvent {
  return { action, recordId: page, person: book, status };
}

/** The body's `id` and `book`, when present, must name the page and book of the URL. */
function checkPageBody(body: Record<string, unknown>, book: string, page: string): void {
  if (body.id !== undefined && body.id !== page) throw errors.idMismatch('id');
  if (body.book !== undefined && (typeof body.book !== 'string' || upperAscii(body.book) !== book)) throw errors.idMismatch('book');
}

export function listBook(ctx: ResourceContext, book: string): Promise<Reply> {
  const ifEmpty = { exists: personRow(book), missing: 'Person' };
  return listingReply(ctx, { table: 'pols', json: PAGE_JSON, where: [sql`book = ${book}::varchar`], path: `/pols/${encodeURIComponent(book)}`, ifEmpty, upstream: true });
}

export async function getPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  const rows = await run<{ j: string | null }>(ctx.pool, statement(ctx.guard, [], sql`SELECT ${ctx.guard.ok} AS guard_ok,
    (SELECT ${raw(PAGE_JSON)} FROM pols WHERE id = ${page}::varchar AND book = ${book}::varchar AND ${ctx.guard.ok}) AS j`), { prepare: true });
  const found = rows[0]?.j;
  if (found == null) throw errors.notFound('Page');
  return json(200, found);
}

export async function createPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  checkPageBody(ctx.body, book, page);
  // The person check, the insert and its audit row are one statement.
  return createOnce(ctx, {
    table: 'pols', id: page, book, data: documentOf(ctx, page, { book }), strip: false, noun: 'Page',
    event: pageEvent('create', book, page, 201), location: `/pols/${encodeURIComponent(book)}/${encodeURIComponent(page)}`,
  }).catch((err) => {
    if (classifyDbError(err) === 'foreign-key') throw errors.notFound('Person');
    throw err;
  });
}

export async function patchPage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  checkPageBody(ctx.body, book, page);
  const rows = await run<{ j: string | null }>(ctx.pool, audited(ctx, pageEvent('update', book, page, 200),
    sql`UPDATE pols SET data = COALESCE(data, '{}'::jsonb) || ${documentOf(ctx, page, { book })}
      WHERE id = ${page}::varchar AND book = ${book}::varchar AND ${ctx.guard.ok} RETURNING ${raw(PAGE_JSON)} AS j`), { prepare: true });
  const found = rows[0]?.j;
  if (found == null) throw errors.notFound('Page');
  return json(200, found);
}

export async function deletePage(ctx: ResourceContext, book: string, page: string): Promise<Reply> {
  try {
    const rows = await run<{ id: string | null }>(ctx.pool, audited(ctx, pageEvent('delete', book, page, 204),
      sql`DELETE FROM pols WHERE id = ${page}::varchar AND book = ${book}::varchar AND ${ctx.guard.ok} RETURNING id`));
    if (rows[0]?.id == null) throw errors.notFound('Page');
    return empty(204);
  } catch (err) {
    if (classifyDbError(err) === 'foreign-key') throw errors.pageInUse();
    throw err;
  }
}
