// Personal documents: metadata listings per person and per page (never the bytes),
// and one document's bytes with its content type and an ETag. Writes: uploads.ts.
import sql from 'sql-template-tag';
import type { ResourceContext } from './context.js';
import { bytes, empty, type Reply } from '../http/reply.js';
import { run, statement } from '../db/run.js';
import { errors } from '../http/errors.js';
import { noneMatch } from '../http/conditional.js';
import { listingReply } from './listing.js';
import { personRow } from './records.js';
import { contentTypeOf, isPassive } from './document-meta.js';
import { API_CSP } from '../http/headers.js';

import { META_JSON } from '../kinds/registry.js';

export function listPersonDocs(ctx: ResourceContext, person: string): Promise<Reply> {
  const ifEmpty = { exists: personRow(person), missing: 'Person' };
  return listingReply(ctx, { table: 'personal_docs', json: META_JSON, where: [sql`fedacct = ${person}::varchar`], path: `/personal_docs/${encodeURIComponent(person)}`, ifEmpty, upstream: true });
}

export function listPageDocs(ctx: ResourceContext, person: string, page: string): Promise<Reply> {
  // A page of another book has none of this person's documents: the check on empty finds it is not in the book.
  const ifEmpty = { exists: sql`SELECT 1 FROM pols WHERE id = ${page}::varchar AND book = ${person}::varchar`, missing: 'Page' };
  return listingReply(ctx, {
    table: 'personal_docs', json: META_JSON, where: [sql`fedacct = ${person}::varchar`, sql`pol = ${page}::varchar`],
    path: `/personal_docs/${encodeURIComponent(person)}/${encodeURIComponent(page)}`, ifEmpty, upstream: true,
  });
}

interface DocRow { found: boolean; document: Buffer | null; size: number; extension: string | null; etag: string | null }

/** The document's bytes. The ETag is a digest of the bytes, so it changes only when they do. */
export async function getDocument(ctx: ResourceContext, person: string, page: string, doc: string): Promise<Reply> {
  const rows = await run<DocRow>(ctx.pool, statement(ctx.guard, [], sql`SELECT ${ctx.guard.ok} AS guard_ok, d.id IS NOT NULL AS found,
      ${ctx.head ? sql`NULL::bytea` : sql`d.document`} AS document, COALESCE(octet_length(d.document), 0) AS size,
      lower(d.data->>'extension') AS extension, encode(sha256(COALESCE(d.document, ''::bytea)), 'hex') AS etag
    FROM (SELECT 1) one LEFT JOIN personal_docs d ON d.id = ${doc}::varchar AND d.fedacct = ${person}::varchar AND d.pol = ${page}::varchar AND ${ctx.guard.ok}`));
  const row = rows[0];
  if (!row?.found) throw errors.notFound('Document');
  const etag = `"${row.etag}"`;
  const type = contentTypeOf(row.extension);
  // Only passive types are shown inline; anything else is a download, and even opened
  // as a page it runs in a sandbox (no script, no meta refresh, no forms).
  const passive = isPassive(type);
  const headers: Record<string, string> = {
    'Content-Type': type, ETag: etag, 'Cache-Control': 'private, no-cache',
    'Content-Disposition': `${passive ? 'inline' : 'attachment'}; filename="${doc.replace(/[^\w.-]/g, '_')}.${(row.extension ?? 'bin').replace(/[^\w]/g, '')}"`,
  };
  if (!passive) headers['Content-Security-Policy'] = `sandbox; ${API_CSP}`;
  if (noneMatch(ctx.conditions.ifNoneMatch, etag)) return empty(304, headers);
  // HEAD reads no bytes but announces the length GET would send.
  if (ctx.head) return empty(200, { ...headers, 'Content-Length': String(row.size) });
  return bytes(200, row.document ?? Buffer.alloc(0), headers);
}
