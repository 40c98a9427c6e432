// Reading a document upload (POST /personal_docs/:id/:page/:doc), in one of two forms:
// - the raw bytes as the body, their Content-Type the document's, the metadata in
//   X-Document-Type, -Extension, -Context, -Description and -Hash headers (values
//   percent-encoded UTF-8, as encodeURIComponent writes them);
// - multipart/form-data (curl -F, Python requests' files=): a `file` part, whose
//   Content-Type and file name are the document's, and an optional `meta` part holding
//   a JSON object of the metadata fields. Parsed by busboy, a streaming parser: the
//   file part's bytes flow into segments as they arrive, like a raw body's (bytes.ts).
// Browsers cannot send a multipart upload cross-site: lib/http/cross-site.ts refuses
// it before this runs. Above the limit the answer is 413, read by the client.
import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { errors, HttpError } from './errors.js';
import { refuseTooLarge } from './body.js';
import { BoundedBytes } from './bytes.js';
import type { ByteParts } from '../db/parts.js';

export interface Upload {
  /** Held once, sent to PostgreSQL as they are. */
  bytes: ByteParts;
  /** sha512 of the bytes, lower-case hex. */
  sha512: string;
  /** The document's media type, lower-cased, without parameters. */
  contentType: string;
  /** The metadata fields as the client sent them (checked by the resource). */
  meta: Record<string, unknown>;
  /** The multipart file part's name, when it had one (its extension may be the document's). */
  filename?: string;
}

/** Header name -> stored field. */
export const META_HEADERS: Readonly<Record<string, string>> = {
  'x-document-type': 'document_type',
  'x-document-extension': 'extension',
  'x-document-context': 'context',
  'x-document-description': 'description',
  'x-document-hash': 'hash',
};

/** Largest `meta` part. */
const META_LIMIT = 64 * 1024;
/** What a multipart body may hold beyond the file: boundaries, part headers, the meta part. */
const MULTIPART_OVERHEAD = META_LIMIT + 16 * 1024;
const MULTIPART = 'multipart/form-data';
/** A form's fields are no document: such a body is refused rather than stored. */
const NOT_DOCUMENTS = new Set(['application/x-www-form-urlencoded']);

const essence = (type: string | undefined) => (type ?? '').split(';')[0]!.trim().toLowerCase();

/** Reads the upload of `req`, at most `limit` bytes of document. */
export function readUpload(req: IncomingMessage, limit: number): Promise<Upload> {
  const type = essence(req.headers['content-type']);
  if (type === MULTIPART) {
    const given = Object.keys(req.headers).filter((h) => h.startsWith('x-document-'));
    if (given.length) throw errors.badUpload(`A multipart upload carries its metadata in its "meta" part, not in ${given.join(', ')}`);
    return readMultipart(req, limit);
  }
  if (type === '' || NOT_DOCUMENTS.has(type)) {
    throw errors.unsupportedType('the document with its Content-Type (image/jpeg, application/pdf, ...) or multipart/form-data');
  }
  const meta = metaFromHeaders(req);
  return readRaw(req, limit).then(({ bytes, sha512 }) => ({ bytes, sha512, contentType: type, meta }));
}

function metaFromHeaders(req: IncomingMessage): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('x-document-')) continue;
    const field = META_HEADERS[name];
    if (!field) throw errors.badUpload(`Unknown header ${name}; the metadata headers are ${Object.keys(META_HEADERS).join(', ')}`);
    const text = Array.isArray(value) ? value.join(', ') : value ?? '';
    try {
      meta[field] = decodeURIComponent(text);
    } catch {
      throw errors.badUpload(`The ${name} header is not percent-encoded UTF-8`);
    }
  }
  return meta;
}

/** Content-Length, when the client sent one that is a number. */
function declaredLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  return raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : undefined;
}

function readRaw(req: IncomingMessage, limit: number): Promise<{ bytes: ByteParts; sha512: string }> {
  return new Promise((resolve, reject) => {
    const declared = declaredLength(req);
    if (declared !== undefined && declared > limit) { reject(refuseTooLarge(req, limit)); return; }
    const sink = new BoundedBytes(limit, declared);
    let done = false;
    const onData = (chunk: Buffer) => {
      if (sink.push(chunk)) return;
      done = true;
      req.off('data', onData);
      req.resume();
      reject(refuseTooLarge(req, limit));
    };
    req.on('data', onData);
    req.once('end', () => { if (!done) { done = true; resolve(sink.done()); } });
    req.once('error', (err) => { if (!done) { done = true; reject(err); } });
  });
}

function readMultipart(req: IncomingMessage, limit: number): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const declared = declaredLength(req);
    if (declared !== undefined && declared > limit + MULTIPART_OVERHEAD) { reject(refuseTooLarge(req, limit)); return; }
    // busboy reports a file of exactly `fileSize` bytes as over the limit: one byte more tells.
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 2, fields: 1, fieldSize: META_LIMIT, fileSize: limit + 1, headerPairs: 32 } });
    } catch (err) {
      reject(errors.badUpload(`Malformed multipart/form-data: ${(err as Error).message}`));
      return;
    }
    let settled = false;
    const fail = (err: HttpError | Error) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      req.resume();
      reject(err);
    };
    const tooLarge = () => { if (!settled) fail(refuseTooLarge(req, limit)); };
    const shape = () => errors.badUpload('A multipart upload holds one "file" part and at most one "meta" part (a JSON object)');
    let file: { sink: BoundedBytes; type: string; filename?: string; ended: boolean } | undefined;
    let metaText: string | undefined;
    parser.on('file', (name, stream, info) => {
      if (name === 'meta' && metaText === undefined) {
        // `-F meta=@meta.json` sends the meta part with a file name: read it as text.
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (chunk: Buffer) => { size += chunk.length; if (size <= META_LIMIT) chunks.push(chunk); });
        stream.on('end', () => { metaText = size <= META_LIMIT ? Buffer.concat(chunks).toString('utf8') : undefined; if (size > META_LIMIT) fail(errors.badUpload(`The "meta" part exceeds ${META_LIMIT} bytes`)); });
        return;
      }
      if (name !== 'file' || file) { stream.resume(); fail(shape()); return; }
      const current = { sink: new BoundedBytes(limit, declared), type: essence(info.mimeType), filename: info.filename || undefined, ended: false };
      file = current;
      stream.on('data', (chunk: Buffer) => { if (!current.sink.push(chunk)) tooLarge(); });
      stream.on('limit', tooLarge);
      stream.on('end', () => { current.ended = true; });
    });
    parser.on('field', (name, value, info) => {
      if (name !== 'meta' || metaText !== undefined) { fail(shape()); return; }
      if (info.valueTruncated) { fail(errors.badUpload(`The "meta" part exceeds ${META_LIMIT} bytes`)); return; }
      metaText = value;
    });
    // Emitted by a part past the limit (two meta fields, a third file).
    for (const event of ['filesLimit', 'fieldsLimit'] as const) parser.on(event, () => fail(shape()));
    parser.on('error', (err: Error) => fail(errors.badUpload(`Malformed multipart/form-data: ${err.message}`)));
    parser.on('close', () => {
      if (settled) return;
      if (!file || !file.ended) { fail(errors.badUpload('A multipart upload needs a "file" part')); return; }
      let meta: unknown = {};
      if (metaText !== undefined) {
        try {
          meta = JSON.parse(metaText);
        } catch {
          fail(errors.badUpload('The "meta" part is not valid JSON'));
          return;
        }
      }
      if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) { fail(errors.badUpload('The "meta" part must be a JSON object')); return; }
      settled = true;
      const { bytes, sha512 } = file.sink.done();
      resolve({ bytes, sha512, contentType: file.type, meta: meta as Record<string, unknown>, filename: file.filename });
    });
    req.on('error', (err) => fail(err));
    req.pipe(parser);
  });
}
