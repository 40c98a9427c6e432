// Pages of Life: a person's book. A page is only ever reached through its own book:
// `/pols/<someone>/<a page of another book>` is a 404, for reads and writes alike.
// The same handlers serve any kind of record kept in a person's book (a row of
// lib/kinds/registry.ts with an owner column and no page of its own); pages by default.
import sql, { raw, type Sql } from 'sql-template-tag';
import { audited, type ResourceContext } from './context.js';
import type { AuditEvent } from '../audit/entry.js';
import { errors } from '../http/errors.js';
import { empty, json, type Reply } from '../http/reply.js';
import { run, statement } from '../db/run.js';
import { classifyDbError } from '../db/errors.js';
import { listingReply } from './listing.js';
import { createOnce, documentOf, enforce, personRow } from './records.js';
import { PAGE, ownerColumn, type KindRow } from '../kinds/registry.js';
import { keyViolation } from '../kinds/rules.js';

/** A kind of record kept in a person's book. */
export type BookKind = KindRow & { person: string; within: null };

/** A kind's SQL pieces, made once: its table, owner column and JSON. */
interface Parts { table: Sql; owner: Sql; json: Sql; column: string }
const parts = new Map<KindRow, Parts>();
function partsOf(kind: BookKind): Parts {
  let p = parts.get(kind);
  if (!p) {
    const column = ownerColumn(kind)!;
    parts.set(kind, p = { table: raw(kind.table), owner: raw(column), json: raw(kind.json), column });
  }
  return p;
}

function pageEvent(action: AuditEvent['action'], book: string, page: string, status: number): AuditEvent {
  return { action, recordId: page, person: book, status };
}

/** The body's `id` and `book`, when present, must name the page and book of the URL. */
function checkPageBody(kind: BookKind, column: string, body: Record<string, unknown>, book: string, page: string): void {
  if (body.id !== undefined || body[column] !== undefined) enforce(keyViolation(kind.keys, { id: page, [column]: book }, body));
}

const locationOf = (kind: BookKind, book: string, page?: string) =>
  `${kind.path}/${encodeURIComponent(book)}${page === undefined ? '' : `/${encodeURIComponent(page)}`}`;

export function listBook(ctx: ResourceContext, book: string, kind: BookKind = PAGE): Promise<Reply> {
  const ifEmpty = { exists: personRow(book), missing: 'Person' };
  const { owner } = partsOf(kind);
  return listingReply(ctx, { table: kind.table, json: kind.json, where: [sql`${owner} = ${book}::varchar`], path: locationOf(kind, book), ifEmpty, upstream: true });
}

export async function getPage(ctx: ResourceContext, book: string, page: string, kind: BookKind = PAGE): Promise<Reply> {
  const p = partsOf(kind);
  const rows = await run<{ j: string | null }>(ctx.pool, statement(ctx.guard, [], sql`SELECT ${ctx.guard.ok} AS guard_ok,
    (SELECT ${p.json} FROM ${p.table} WHERE id = ${page}::varchar AND ${p.owner} = ${book}::varchar AND ${ctx.guard.ok}) AS j`), { prepare: true });
  const found = rows[0]?.j;
  if (found == null) throw errors.notFound(kind.noun);
  return json(200, found);
}

export async function createPage(ctx: ResourceContext, book: string, page: string, kind: BookKind = PAGE): Promise<Reply> {
  const { column } = partsOf(kind);
  checkPageBody(kind, column, ctx.body, book, page);
  // The person check, the insert and its audit row are one statement.
  return createOnce(ctx, {
    kind, id: page, book, data: documentOf(ctx, page, { [column]: book }), strip: false,
    event: pageEvent('create', book, page, 201), location: locationOf(kind, book, page),
  }).catch((err) => {
    if (classifyDbError(err) === 'foreign-key') throw errors.notFound('Person');
    throw err;
  });
}

export async function patchPage(ctx: ResourceContext, book: string, page: string, kind: BookKind = PAGE): Promise<Reply> {
  const p = partsOf(kind);
  checkPageBody(kind, p.column, ctx.body, book, page);
  const rows = await run<{ j: string | null }>(ctx.pool, audited(ctx, pageEvent('update', book, page, 200),
    sql`UPDATE ${p.table} SET data = COALESCE(data, '{}'::jsonb) || ${documentOf(ctx, page, { [p.column]: book })}
      WHERE id = ${page}::varchar AND ${p.owner} = ${book}::varchar AND ${ctx.guard.ok} RETURNING ${p.json} AS j`), { prepare: true });
  const found = rows[0]?.j;
  if (found == null) throw errors.notFound(kind.noun);
  return json(200, found);
}

export async function deletePage(ctx: ResourceContext, book: string, page: string, kind: BookKind = PAGE): Promise<Reply> {
  const p = partsOf(kind);
  try {
    const rows = await run<{ id: string | null }>(ctx.pool, audited(ctx, pageEvent('delete', book, page, 204),
      sql`DELETE FROM ${p.table} WHERE id = ${page}::varchar AND ${p.owner} = ${book}::varchar AND ${ctx.guard.ok} RETURNING id`));
    if (rows[0]?.id == null) throw errors.notFound(kind.noun);
    return empty(204);
  } catch (err) {
    // A page's documents reference it.
    if (classifyDbError(err) === 'foreign-key') throw errors.pageInUse();
    throw err;
  }
}
