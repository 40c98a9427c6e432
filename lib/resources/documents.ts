// Personal documents: metadata listings per person and per page (never the bytes),
// and one document's bytes with its content type and an ETag. Writes: uploads.ts.
import type { ResourceContext, Reply } from './context.js';
import { errors } from '../http/errors.js';
import { noneMatch } from '../http/conditional.js';
import { sendListing } from './listing.js';
import { personExists } from './records.js';
import { contentTypeOf } from './document-meta.js';

/** The stored `data` fields, then the columns, then the size: the bytes stay in the database. */
export const META_JSON = `(COALESCE(data, '{}'::jsonb) || jsonb_build_object('id', id, 'fedacct', fedacct, 'pol', pol,
  'size', COALESCE(octet_length(document), 0)))::text`;

export async function listPersonDocs(ctx: ResourceContext, person: string): Promise<void> {
  if (!(await personExists(ctx, person))) throw errors.notFound('Person');
  await sendListing(ctx, { table: 'personal_docs', json: META_JSON, where: 'fedacct = $1', args: [person], path: `/personal_docs/${encodeURIComponent(person)}`, upstream: true });
}

export async function listPageDocs(ctx: ResourceContext, person: string, page: string): Promise<void> {
  const { rowCount } = await ctx.pool.query('SELECT 1 FROM pols WHERE id = $1 AND book = $2', [page, person]);
  if (!rowCount) throw errors.notFound('Page');
  await sendListing(ctx, {
    table: 'personal_docs', json: META_JSON, where: 'fedacct = $1 AND pol = $2', args: [person, page],
    path: `/personal_docs/${encodeURIComponent(person)}/${encodeURIComponent(page)}`, upstream: true,
  });
}

interface DocRow { document: Buffer | null; size: number; extension: string | null; etag: string | null }

/** The document's bytes. The ETag is a digest of the bytes, so it changes only when they do. */
export async function getDocument(ctx: ResourceContext, person: string, page: string, doc: string, ifNoneMatch: string | undefined): Promise<Reply & { bytes?: Buffer }> {
  const { rows } = await ctx.pool.query<DocRow>(
    `SELECT ${ctx.head ? 'NULL::bytea' : 'document'} AS document, COALESCE(octet_length(document), 0) AS size,
       lower(data->>'extension') AS extension,
       encode(sha256(COALESCE(document, ''::bytea)), 'hex') AS etag
     FROM personal_docs WHERE id = $1 AND fedacct = $2 AND pol = $3`, [doc, person, page]);
  const row = rows[0];
  if (!row) throw errors.notFound('Document');
  const etag = `"${row.etag}"`;
  const type = contentTypeOf(row.extension);
  const headers = {
    'Content-Type': type, ETag: etag, 'Cache-Control': 'private, no-cache',
    'Content-Disposition': `inline; filename="${doc.replace(/[^\w.-]/g, '_')}.${(row.extension ?? 'bin').replace(/[^\w]/g, '')}"`,
  };
  if (noneMatch(ifNoneMatch, etag)) return { status: 304, headers };
  // HEAD reads no bytes but announces the length GET would send.
  if (ctx.head) return { status: 200, headers: { ...headers, 'Content-Length': String(row.size) } };
  return { status: 200, headers, bytes: row.document ?? Buffer.alloc(0) };
}
