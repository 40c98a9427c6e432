// Writing personal documents: upload (POST), metadata changes (PATCH) and removal
// (DELETE), each with its audit row in the same statement. A document lives on a page
// of its person's book: an unknown person, an unknown page or a page of another book
// is a 404. An upload to an existing id answers 200 when it is the very same document
// (bytes, metadata, person and page: a client resending after a lost answer), else 409.
// The bytes go to PostgreSQL once, as one binary bytea parameter written from the
// upload's own segments (lib/db/parts.ts).
import sql, { raw } from 'sql-template-tag';
import { audited, type ResourceContext } from './context.js';
import { auditInsert, type AuditEvent } from '../audit/entry.js';
import { errors } from '../http/errors.js';
import { empty, json, type Reply } from '../http/reply.js';
import type { Upload } from '../http/upload.js';
import { run, statement } from '../db/run.js';
import { classifyDbError } from '../db/errors.js';
import { META_JSON } from '../kinds/registry.js';
import { personExists } from './records.js';
import { checkMeta, contentTypeOf, extensionFits, extensionsServedAs, SERVER_FIELDS, TYPES, uploadData, type DocumentIds } from './document-meta.js';

const META = raw(META_JSON);

function docEvent(action: AuditEvent['action'], ids: DocumentIds, status: number): AuditEvent {
  return { action, recordId: ids.doc, person: ids.person, status };
}

const locationOf = (ids: DocumentIds) => `/personal_docs/${encodeURIComponent(ids.person)}/${encodeURIComponent(ids.page)}/${encodeURIComponent(ids.doc)}`;

type Outcome = { outcome: 'created' | 'same' | 'conflict' | 'quota'; j: string | null };

/** DOCUMENT_QUOTA_BYTES and DOCUMENT_QUOTA_COUNT: what one person's book may hold (0: no bound). */
export interface DocumentQuota { bytes: number; count: number }

/** 404 Person or Page, whichever is missing (a page of another book is missing from this one). */
async function missingTarget(ctx: ResourceContext, ids: DocumentIds): Promise<never> {
  if (!(await personExists(ctx, ids.person))) throw errors.notFound('Person');
  throw errors.notFound('Page');
}

export async function createDocument(ctx: ResourceContext, ids: DocumentIds, upload: Upload, quota: DocumentQuota): Promise<Reply> {
  const data = JSON.stringify(uploadData(checkMeta(upload.meta, ids), { length: upload.bytes.length, sha512: upload.sha512, contentType: upload.contentType, filename: upload.filename }));
  const { person, page, doc } = ids;
  const ok = ctx.guard.ok;
  // The quota is checked under the book's lock, held until this statement commits
  // (sql/030_document_quota.sql): parallel uploads to one book take turns.
  const allows = quota.bytes || quota.count
    ? sql`document_quota_allows(${person}::varchar, ${upload.bytes.length}::bigint, ${quota.bytes}::bigint, ${quota.count}::bigint)`
    : sql`true`;
  // The bytes appear once in the statement (one parameter), read through `given`, whose
  // columns are named apart from personal_docs' so META_JSON reads the stored row. Under
  // a guard that fails nothing is written, and the one row says so.
  const write = statement(ctx.guard, [
    sql`given AS (SELECT ${data}::jsonb AS new_data, ${upload.bytes}::bytea AS new_bytes)`,
    sql`target AS (SELECT 1 FROM pols WHERE id = ${page}::varchar AND book = ${person}::varchar AND ${ok})`,
    sql`quota AS (SELECT ${allows} AS fits WHERE EXISTS (SELECT 1 FROM target))`,
    sql`ins AS (INSERT INTO personal_docs (id, fedacct, pol, document, data)
      SELECT ${doc}::varchar, ${person}::varchar, ${page}::varchar, new_bytes, new_data FROM given WHERE EXISTS (SELECT 1 FROM target) AND (SELECT fits FROM quota)
      ON CONFLICT (id) DO NOTHING RETURNING ${META} AS j)`,
    sql`a AS (${auditInsert({ ...ctx.audit, ...docEvent('create', ids, 201) }, sql`EXISTS (SELECT 1 FROM ins)`)})`,
  ], sql`SELECT true AS guard_ok, 'created' AS outcome, j FROM ins
    UNION ALL
    SELECT true, CASE WHEN same THEN 'same' ELSE 'conflict' END, CASE WHEN same THEN j END FROM (
      SELECT t.fedacct = ${person}::varchar AND t.pol = ${page}::varchar AND t.data = given.new_data AND t.document = given.new_bytes AS same,
        ${META} AS j
      FROM personal_docs t, given WHERE t.id = ${doc}::varchar AND EXISTS (SELECT 1 FROM target) AND NOT EXISTS (SELECT 1 FROM ins)) existing
    UNION ALL
    SELECT true, 'quota', NULL WHERE NOT COALESCE((SELECT fits FROM quota), true) AND NOT EXISTS (SELECT 1 FROM personal_docs WHERE id = ${doc}::varchar)
    UNION ALL
    SELECT false, NULL, NULL WHERE NOT ${ok}`);
  let row: Outcome | undefined;
  try {
    row = (await run<Outcome & { guard_ok: boolean }>(ctx.pool, write))[0];
  } catch (err) {
    // The page (or person) was removed while the statement ran.
    if (classifyDbError(err) === 'foreign-key') return missingTarget(ctx, ids);
    throw err;
  }
  if (!row) {
    // Another upload of this id committed while the statement ran: compare with it (by hash, not resending the bytes).
    const again = sql`SELECT CASE WHEN same THEN 'same' ELSE 'conflict' END AS outcome, CASE WHEN same THEN j END AS j FROM (
      SELECT fedacct = ${person}::varchar AND pol = ${page}::varchar AND data = ${data}::jsonb AND encode(sha512(document), 'hex') = ${upload.sha512}::text AS same,
        ${META} AS j FROM personal_docs WHERE id = ${doc}::varchar
        AND EXISTS (SELECT 1 FROM pols WHERE id = ${page}::varchar AND book = ${person}::varchar)) existing`;
    row = (await run<Outcome>(ctx.pool, again))[0];
    if (!row) return missingTarget(ctx, ids);
  }
  if (row.outcome === 'created') return json(201, row.j!, { Location: locationOf(ids) });
  if (row.outcome === 'same') return json(200, row.j!);
  if (row.outcome === 'quota') throw errors.documentQuotaExceeded(person, quota.bytes, quota.count);
  throw errors.exists('Document');
}

/** Merges metadata into `data`; the bytes, `hash` and `size` never change (sent back unchanged, they are accepted). */
export async function patchDocument(ctx: ResourceContext, ids: DocumentIds): Promise<Reply> {
  const meta = checkMeta(ctx.body, ids);
  const { person, page, doc } = ids;
  // The body as sent (jsonb keeps its numbers exactly), less the fields the server owns.
  const changes = SERVER_FIELDS.reduce((acc, key) => sql`(${acc} - ${key}::text)`, sql`${ctx.bodyText}::jsonb`);
  // A new extension must fit the type the stored one is served as, as an upload's must fit its Content-Type.
  const extension = typeof meta.fields.extension === 'string' ? meta.fields.extension : null;
  const fits = extension === null || contentTypeOf(extension) === OCTET ? null : extensionsServedAs(extension);
  const rows = await run<{ j: string | null }>(ctx.pool, audited(ctx, docEvent('update', ids, 200),
    sql`UPDATE personal_docs SET data = COALESCE(data, '{}'::jsonb) || ${changes}
      WHERE id = ${doc}::varchar AND fedacct = ${person}::varchar AND pol = ${page}::varchar AND ${ctx.guard.ok}
        AND (${meta.hash ?? null}::text IS NULL OR lower(data->>'hash') = ${meta.hash ?? null}::text)
        AND (${meta.size ?? null}::bigint IS NULL OR COALESCE(octet_length(document), 0) = ${meta.size ?? null}::bigint)
        AND (${fits}::text[] IS NULL OR ${STORED_EXTENSION} = ANY(${fits}::text[]) OR ${STORED_EXTENSION} <> ALL(${Object.keys(TYPES)}::text[]))
      RETURNING ${META} AS j`));
  const found = rows[0]?.j;
  if (found != null) return json(200, found);
  const stored = (await run<{ extension: string }>(ctx.pool, sql`SELECT ${STORED_EXTENSION} AS extension FROM personal_docs
    WHERE id = ${doc}::varchar AND fedacct = ${person}::varchar AND pol = ${page}::varchar`))[0];
  if (!stored) throw errors.notFound('Document');
  const type = contentTypeOf(stored.extension);
  if (extension !== null && !extensionFits(extension, type)) {
    throw errors.badValue(`The extension "${extension}" is served as ${contentTypeOf(extension).split(';')[0]}, but the document is ${type.split(';')[0]}; upload it again under a new id`);
  }
  throw errors.badValue('"hash" and "size" describe the stored bytes and cannot be changed; upload the document again under a new id');
}

const OCTET = 'application/octet-stream';
/** The stored extension as contentTypeOf reads it. */
const STORED_EXTENSION = sql`lower(regexp_replace(COALESCE(data->>'extension', ''), '^[.]', ''))`;

export async function deleteDocument(ctx: ResourceContext, ids: DocumentIds): Promise<Reply> {
  const rows = await run<{ id: string | null }>(ctx.pool, audited(ctx, docEvent('delete', ids, 204),
    sql`DELETE FROM personal_docs WHERE id = ${ids.doc}::varchar AND fedacct = ${ids.person}::varchar AND pol = ${ids.page}::varchar AND ${ctx.guard.ok} RETURNING id`));
  if (rows[0]?.id == null) throw errors.notFound('Document');
  return empty(204);
}
