// Document upload, metadata changes and removal (POST/PATCH/DELETE
// /personal_docs/:id/:page/:doc): both upload forms (raw bytes with X-Document-*
// headers, multipart/form-data with `meta` and `file`), the hash computed and checked,
// the resend rule, each refusal with its exact body and no row changed, the cross-site
// rule for uploads, and a DOCUMENT_LIMIT (10 MiB) round trip with its hash.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type CallOptions, type Response } from '../helpers/http.js';
import { dumpRows } from '../helpers/rows.js';
import pg from 'pg';
import sql from 'sql-template-tag';
import { BoundedBytes, SEGMENT } from '../../lib/http/bytes.js';
import { run } from '../../lib/db/run.js';

const ANA_ID = 'ESPGNU777ORG';
const CAMERON_ID = 'ITAPYT999HON';
const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const PICTURE = '5f626a20-5d86-488c-a1e2-844ccf399c72';
const MIB = 1024 * 1024;

const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const E = {
  unauthenticated: { error: 'Valid credentials are required', code: 'UNAUTHENTICATED' },
  forbidden: { error: 'Your roles do not allow this request', code: 'FORBIDDEN' },
  notFound: (what: string) => ({ error: `${what} not found`, code: 'NOT_FOUND' }),
  exists: { error: 'Document already exists', code: 'ALREADY_EXISTS' },
  tooLarge: (limit: number) => ({ error: `The request body exceeds ${limit} bytes`, code: 'BODY_TOO_LARGE' }),
  hashMismatch: { error: 'The uploaded bytes do not have the sha512 hash the request names; nothing was stored', code: 'HASH_MISMATCH' },
};

const t = suite('uploads');
let s: TestServer;
const req = (method: string, path: string, opts: CallOptions = {}) => call(s.base, method, path, opts);
const docPath = (person: string, page: string, doc: string) => `/personal_docs/${person}/${page}/${doc}`;

/** A raw upload: the bytes with their type, the metadata in headers. */
function raw(bytes: Buffer | Readable, type: string | undefined, meta: Record<string, string> = {}): CallOptions {
  const headers: Record<string, string> = {};
  if (type !== undefined) headers['content-type'] = type;
  for (const [k, v] of Object.entries(meta)) headers[`x-document-${k}`] = encodeURIComponent(v);
  return { raw: bytes, headers };
}

/** A multipart/form-data body as curl -F writes it: `meta` (JSON, optionally as a file part) and `file`. */
function multipart(file: { bytes: Buffer; type: string; name?: string } | undefined, meta?: unknown, opts: { metaAsFile?: boolean; extra?: string } = {}): CallOptions {
  const boundary = `----thalamus${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  if (meta !== undefined) {
    const disposition = opts.metaAsFile ? 'form-data; name="meta"; filename="meta.json"\r\nContent-Type: application/json' : 'form-data; name="meta"';
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n${typeof meta === 'string' ? meta : JSON.stringify(meta)}\r\n`));
  }
  if (opts.extra) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${opts.extra}"\r\n\r\nx\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name ?? 'upload'}"\r\nContent-Type: ${file.type}\r\n\r\n`), file.bytes, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { raw: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** A request that must be refused with `status` and `body`, changing no row. */
async function refused(method: string, path: string, opts: CallOptions, status: number, body?: unknown): Promise<Response> {
  const before = await dumpRows(s.db.pool);
  const r = await req(method, path, opts);
  assert.is(r.status, status, `${method} ${path}: ${r.text}`);
  if (body !== undefined) assert.equal(r.json, body);
  assert.is(await dumpRows(s.db.pool), before, `${method} ${path} (${status}) changed a row`);
  return r;
}

t.before(async () => {
  s = await startServer();
  for (const as of [ANA, CAMERON, ROOT]) assert.is((await req('GET', '/login', { as })).status, 200);
});
t.after(async () => { await s.close(); });

t('raw upload: 201 with Location and the metadata; the hash is the sha512 of the bytes; GET returns them; audited', async () => {
  const bytes = Buffer.concat([Buffer.from('ffd8ffe0', 'hex'), randomBytes(5000)]);
  const path = docPath(ANA_ID, BIRTH, 'up-raw-1');
  const r = await req('POST', path, { as: ANA, ...raw(bytes, 'image/jpeg', { type: 'picture', context: 'identification', description: 'Ana à 3 ans', extension: 'jpg' }) });
  assert.is(r.status, 201, r.text);
  assert.is(r.headers.location, path);
  assert.equal(r.json, {
    document_type: 'picture', context: 'identification', description: 'Ana à 3 ans', extension: 'jpg', hash: sha512(bytes),
    id: 'up-raw-1', fedacct: ANA_ID, pol: BIRTH, size: bytes.length,
  });
  const got = await req('GET', path, { as: ANA });
  assert.is(got.status, 200);
  assert.ok(got.bytes.equals(bytes), 'the same bytes');
  assert.is(got.headers['content-type'], 'image/jpeg');
  assert.is(got.headers.etag, `"${sha256(bytes)}"`);
  const listed = await req('GET', `/personal_docs/${ANA_ID}/${BIRTH}`, { as: ANA });
  assert.ok(listed.listed!.some((d: { id: string }) => d.id === 'up-raw-1'));
  const { rows } = await s.db.pool.query(`SELECT actor, action, record_id, person, status FROM audit WHERE route = '/personal_docs/:id/:page/:doc' AND action = 'create'`);
  assert.equal(rows, [{ actor: ANA_ID, action: 'create', record_id: 'up-raw-1', person: ANA_ID, status: 201 }]);
});

t('the same upload again is 200 and changes nothing; other bytes or metadata under that id are 409', async () => {
  const bytes = randomBytes(3000);
  const path = docPath(ANA_ID, BIRTH, 'up-resend');
  const send = () => raw(bytes, 'application/pdf', { type: 'report', extension: 'pdf' });
  const first = await req('POST', path, { as: ANA, ...send() });
  assert.is(first.status, 201);
  const before = await dumpRows(s.db.pool);
  const again = await req('POST', path, { as: ANA, ...send() });
  assert.equal([again.status, again.json], [200, first.json]);
  assert.is(again.headers.location, undefined);
  assert.is(await dumpRows(s.db.pool), before);
  const other = Buffer.from(bytes);
  other[0] ^= 1;
  await refused('POST', path, { as: ANA, ...raw(other, 'application/pdf', { type: 'report', extension: 'pdf' }) }, 409, E.exists);
  await refused('POST', path, { as: ANA, ...raw(bytes, 'application/pdf', { type: 'lab report', extension: 'pdf' }) }, 409, E.exists);
  // The demo picture's id, from the very bytes it holds: its stored metadata differs (no hash check by upstream), so 409.
  await refused('POST', docPath(ANA_ID, BIRTH, PICTURE), { as: ROOT, ...raw(Buffer.from('x'), 'image/jpeg') }, 409, E.exists);
});

t('multipart/form-data from a client that is no browser: `meta` part (as a field or a file) and `file` part', async () => {
  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(4096)]);
  const path = docPath(ANA_ID, BIRTH, 'up-multipart');
  const r = await req('POST', path, { as: ANA, ...multipart({ bytes: pdf, type: 'application/pdf', name: 'lab.pdf' }, { document_type: 'lab', context: 'blood count', hash: sha512(pdf) }) });
  assert.is(r.status, 201, r.text);
  assert.equal(r.json, { document_type: 'lab', context: 'blood count', extension: 'pdf', hash: sha512(pdf), id: 'up-multipart', fedacct: ANA_ID, pol: BIRTH, size: pdf.length });
  const got = await req('GET', path, { as: CAMERON });
  assert.ok(got.bytes.equals(pdf));
  assert.is(got.headers['content-type'], 'application/pdf');
  const png = randomBytes(2048);
  const second = await req('POST', docPath(ANA_ID, BIRTH, 'up-multipart-2'), { as: ANA, ...multipart({ bytes: png, type: 'image/png' }, { description: 'meta sent as a file' }, { metaAsFile: true }) });
  assert.is(second.status, 201, second.text);
  assert.is(second.json.extension, 'png', 'the extension of the Content-Type');
  assert.is(second.json.description, 'meta sent as a file');
  const bare = await req('POST', docPath(ANA_ID, BIRTH, 'up-multipart-3'), { as: ANA, ...multipart({ bytes: png, type: 'image/png', name: 'scan.png' }) });
  assert.equal([bare.status, bare.json.extension, bare.json.hash], [201, 'png', sha512(png)]);
});

t('cross-site: a browser\'s multipart or text/plain upload is refused; the portal\'s preflighted image/jpeg upload works', async () => {
  const bytes = randomBytes(1000);
  const browser = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' };
  const form = multipart({ bytes, type: 'image/jpeg' }, { document_type: 'x' });
  const refusal = { error: 'A browser sent this write without a CORS preflight (a form or a simple cross-site request); send JSON with Content-Type: application/json, or a document with its own Content-Type', code: 'CROSS_SITE_REQUEST' };
  await refused('POST', docPath(ANA_ID, BIRTH, 'up-csrf-1'), { as: ANA, raw: form.raw, headers: { ...form.headers, ...browser } }, 403, refusal);
  await refused('POST', docPath(ANA_ID, BIRTH, 'up-csrf-2'), { as: ANA, raw: bytes, headers: { 'content-type': 'text/plain', ...browser } }, 403, refusal);
  await refused('POST', docPath(ANA_ID, BIRTH, 'up-csrf-3'), { as: ANA, raw: bytes, headers: { ...browser, 'sec-fetch-mode': 'navigate', 'content-type': 'image/jpeg' } }, 403, refusal);
  // The portal's fetch() of an image: a type no form can send, so the browser preflighted it.
  const portal = await req('POST', docPath(ANA_ID, BIRTH, 'up-portal'), { as: ANA, raw: bytes, headers: { 'content-type': 'image/jpeg', origin: 'https://portal.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', 'x-document-type': 'picture' } });
  assert.is(portal.status, 201, portal.text);
  assert.is(portal.headers['access-control-allow-origin'], '*');
  assert.is(portal.json.extension, 'jpg');
});

t('refusals: 401, 403, 404 (person, page, another book\'s page), 415, 400 (hash, metadata, multipart shape)', async () => {
  const bytes = randomBytes(100);
  const jpeg = (meta: Record<string, string> = {}) => raw(bytes, 'image/jpeg', meta);
  const own = docPath(ANA_ID, BIRTH, 'up-refused');
  await refused('POST', own, jpeg(), 401, E.unauthenticated);
  await refused('POST', own, { as: { user: ANA_ID, password: 'wrong-password' }, ...jpeg() }, 401, E.unauthenticated);
  await refused('POST', docPath(CAMERON_ID, BIRTH, 'up-refused'), { as: ANA, ...jpeg() }, 403, E.forbidden);
  await refused('DELETE', docPath(ANA_ID, BIRTH, PICTURE), { as: ANA }, 403, E.forbidden);
  await refused('DELETE', docPath(ANA_ID, BIRTH, PICTURE), { as: CAMERON }, 403, E.forbidden);
  await refused('POST', docPath('NOSUCH000ACC', BIRTH, 'up-refused'), { as: ROOT, ...jpeg() }, 404, E.notFound('Person'));
  await refused('POST', docPath(ANA_ID, 'no-such-page', 'up-refused'), { as: ANA, ...jpeg() }, 404, E.notFound('Page'));
  await refused('POST', docPath(CAMERON_ID, BIRTH, 'up-refused'), { as: CAMERON, ...jpeg() }, 404, E.notFound('Page'));
  // An existing document id under a page of another book is that page's 404, not a 409.
  await refused('POST', docPath(CAMERON_ID, BIRTH, PICTURE), { as: ROOT, ...jpeg() }, 404, E.notFound('Page'));
  const unsupported = { error: 'The request body must be the document with its Content-Type (image/jpeg, application/pdf, ...) or multipart/form-data', code: 'UNSUPPORTED_MEDIA_TYPE' };
  await refused('POST', own, { as: ANA, ...raw(bytes, undefined) }, 415, unsupported);
  await refused('POST', own, { as: ANA, ...raw(bytes, 'application/x-www-form-urlencoded') }, 415, unsupported);
  await refused('POST', own, { as: ANA, ...jpeg({ hash: sha512(Buffer.from('other bytes')) }) }, 400, E.hashMismatch);
  await refused('POST', own, { as: ANA, ...multipart({ bytes, type: 'image/jpeg' }, { hash: 'ab'.repeat(64) }) }, 400, E.hashMismatch);
  const code = async (opts: CallOptions, expected: string, path = own) => assert.is((await refused('POST', path, { as: ANA, ...opts }, 400)).json.code, expected, JSON.stringify(opts.headers));
  await code(jpeg({ hash: 'not-hex' }), 'INVALID_VALUE');
  await code({ ...jpeg(), headers: { 'content-type': 'image/jpeg', 'x-document-kind': 'x' } }, 'INVALID_UPLOAD');
  await code({ ...jpeg(), headers: { 'content-type': 'image/jpeg', 'x-document-description': '%E0%A4%A' } }, 'INVALID_UPLOAD');
  await code(jpeg({ extension: 'pdf' }), 'INVALID_UPLOAD');
  await code(jpeg({ extension: '../x' }), 'INVALID_VALUE');
  await code(multipart({ bytes, type: 'image/jpeg' }, { id: 'another-id' }), 'ID_MISMATCH');
  await code(multipart({ bytes, type: 'image/jpeg' }, { fedacct: CAMERON_ID }), 'ID_MISMATCH');
  await code(multipart({ bytes, type: 'image/jpeg' }, { description: 7 }), 'INVALID_VALUE');
  await code(multipart({ bytes, type: 'image/jpeg' }, { size: 99 }), 'INVALID_UPLOAD');
  await code(multipart({ bytes, type: 'image/jpeg' }, '{"broken'), 'INVALID_UPLOAD');
  await code(multipart({ bytes, type: 'image/jpeg' }, '[1]'), 'INVALID_UPLOAD');
  await code(multipart(undefined, { document_type: 'x' }), 'INVALID_UPLOAD');
  await code(multipart({ bytes, type: 'image/jpeg' }, undefined, { extra: 'other' }), 'INVALID_UPLOAD');
  await code({ raw: multipart({ bytes, type: 'image/jpeg' }).raw, headers: { 'content-type': 'multipart/form-data' } }, 'INVALID_UPLOAD');
  // Refused before the body is read, a 10 MiB upload still gets its answer, and the connection serves the next request.
  const big = randomBytes(10 * MIB);
  await refused('POST', docPath(CAMERON_ID, BIRTH, 'up-refused'), { as: ANA, ...raw(big, 'application/pdf') }, 403, E.forbidden);
  await refused('POST', own, { as: ANA, ...raw(big, undefined) }, 415, unsupported);
  assert.is((await req('GET', '/login', { as: ANA })).status, 200);
  const withHeader = multipart({ bytes, type: 'image/jpeg' });
  await code({ raw: withHeader.raw, headers: { ...withHeader.headers, 'x-document-hash': sha512(bytes) } }, 'INVALID_UPLOAD');
});

t('413 above DOCUMENT_LIMIT, read by the client: declared, chunked, and multipart', async () => {
  const small = await startServer({ documentLimit: 64 * 1024 });
  try {
    const path = docPath(ANA_ID, BIRTH, 'up-big');
    const before = await dumpRows(small.db.pool);
    const over = randomBytes(64 * 1024 + 1);
    for (const opts of [
      raw(over, 'application/octet-stream'),
      raw(Readable.from([over.subarray(0, 40_000), over.subarray(40_000)]), 'application/octet-stream'),
      multipart({ bytes: over, type: 'application/pdf' }, { document_type: 'x' }),
      ((form) => ({ raw: Readable.from([form.raw as Buffer]), headers: form.headers }))(multipart({ bytes: over, type: 'application/pdf' })),
    ]) {
      const r = await call(small.base, 'POST', path, { as: ANA, ...opts });
      assert.is(r.status, 413, r.text);
      assert.equal(r.json, E.tooLarge(64 * 1024));
      assert.is(r.headers.connection, 'close');
    }
    const exact = await call(small.base, 'POST', path, { as: ANA, ...raw(over.subarray(0, 64 * 1024), 'application/octet-stream') });
    assert.is(exact.status, 201, 'exactly DOCUMENT_LIMIT is accepted');
    assert.is(exact.json.size, 64 * 1024);
    const exactForm = await call(small.base, 'POST', docPath(ANA_ID, BIRTH, 'up-big-form'), { as: ANA, ...multipart({ bytes: over.subarray(0, 64 * 1024), type: 'application/pdf' }) });
    assert.equal([exactForm.status, exactForm.json.size], [201, 64 * 1024], 'also in a multipart upload');
    assert.not.ok(before === await dumpRows(small.db.pool));
  } finally {
    await small.close();
  }
});

t('a 10 MiB document (DOCUMENT_LIMIT by default) round trip: same bytes, hash, ETag, content type from the extension; chunked too', async () => {
  assert.is(s.config.documentLimit, 10 * MIB);
  const bytes = randomBytes(10 * MIB);
  const hash = sha512(bytes);
  const path = docPath(ANA_ID, BIRTH, 'up-10mib');
  const r = await req('POST', path, { as: ANA, ...raw(bytes, 'application/dicom', { type: 'imaging', extension: 'dcm', hash }) });
  assert.is(r.status, 201, r.text);
  assert.equal([r.json.size, r.json.hash], [10 * MIB, hash]);
  const got = await req('GET', path, { as: ANA });
  assert.is(got.status, 200);
  assert.is(got.bytes.length, 10 * MIB);
  assert.is(sha512(got.bytes), hash);
  assert.is(got.headers['content-type'], 'application/dicom');
  assert.is(got.headers.etag, `"${sha256(bytes)}"`);
  const { rows } = await s.db.pool.query(`SELECT data->>'hash' AS hash, encode(sha512(document), 'hex') AS computed FROM personal_docs WHERE id = 'up-10mib'`);
  assert.equal(rows, [{ hash, computed: hash }]);
  const chunks = Array.from({ length: 10 }, (_, i) => bytes.subarray(i * MIB, (i + 1) * MIB));
  const chunked = await req('POST', docPath(ANA_ID, BIRTH, 'up-10mib-chunked'), { as: CAMERON, ...raw(Readable.from(chunks), 'application/octet-stream') });
  assert.equal([chunked.status, chunked.json.hash, chunked.json.extension], [201, hash, undefined]);
  const over = await req('POST', docPath(ANA_ID, BIRTH, 'up-10mib-over'), { as: ANA, ...raw(Buffer.concat([bytes, Buffer.from('!')]), 'application/octet-stream') });
  assert.equal([over.status, over.json], [413, E.tooLarge(10 * MIB)]);
});

t('the bytes are held once, in segments of at most 1 MiB (the first sized from Content-Length), never in a doubled copy', () => {
  const sink = new BoundedBytes(1000, 300);
  for (let i = 0; i < 3; i++) assert.ok(sink.push(Buffer.alloc(100, i)));
  assert.not.ok(sink.push(Buffer.alloc(701)), 'past the limit');
  const { bytes, sha512: hash } = sink.done();
  assert.is(bytes.length, 300);
  assert.equal(bytes.parts.map((p) => p.buffer.byteLength >= 300 ? p.length : -1), [300], 'one segment of the announced size');
  assert.is(hash, sha512(Buffer.concat([Buffer.alloc(100, 0), Buffer.alloc(100, 1), Buffer.alloc(100, 2)])));
  // A chunked body (no Content-Length) of 2.5 MiB in 64 KiB chunks: three segments, the last one cut to what came.
  const data = randomBytes(2.5 * MIB);
  const chunked = new BoundedBytes(10 * MIB);
  for (let at = 0; at < data.length; at += 64 * 1024) assert.ok(chunked.push(data.subarray(at, at + 64 * 1024)));
  const got = chunked.done();
  assert.equal(got.bytes.parts.map((p) => p.length), [SEGMENT, SEGMENT, 0.5 * MIB]);
  assert.ok(got.bytes.parts.every((p) => p.buffer.byteLength <= SEGMENT), 'no segment allocated beyond 1 MiB');
  assert.ok(Buffer.concat(got.bytes.parts).equals(data));
  assert.is(got.sha512, sha512(data));
});

t('the segments reach PostgreSQL by reference: the Bind message is written around them, nothing copies the document', async () => {
  const pool = new pg.Pool({ connectionString: s.db.url, max: 1 });
  try {
    const client = await pool.connect();
    const stream = (client as unknown as { connection: { stream: { write: (chunk: Buffer, ...rest: unknown[]) => boolean } } }).connection.stream;
    const written: Buffer[] = [];
    const write = stream.write.bind(stream);
    stream.write = (chunk: Buffer, ...rest: unknown[]) => { written.push(chunk); return write(chunk, ...rest); };
    client.release();
    const data = randomBytes(3 * MIB + 5);
    const sink = new BoundedBytes(10 * MIB, data.length);
    for (let at = 0; at < data.length; at += 100_000) sink.push(data.subarray(at, at + 100_000));
    const { bytes, sha512: hash } = sink.done();
    assert.is(bytes.parts.length, 4);
    // Text and null parameters around the bytes keep their places.
    const [row] = await run<{ h: string; n: number; before: string; after: string | null }>(pool,
      sql`SELECT ${'ä before'}::text AS before, encode(sha512(${bytes}::bytea), 'hex') AS h, octet_length(${bytes}::bytea) AS n, ${null}::text AS after`);
    assert.equal(row, { before: 'ä before', h: hash, n: data.length, after: null });
    for (const part of bytes.parts) assert.ok(written.some((w) => w === part), 'each segment is written as it is');
    assert.ok(written.every((w) => bytes.parts.includes(w) || w.length < 4096), `no other write holds the document (largest: ${Math.max(...written.filter((w) => !bytes.parts.includes(w)).map((w) => w.length))})`);
  } finally {
    await pool.end();
  }
});

t('a professional (global role) uploads to another person\'s page; an end user only to their own book', async () => {
  const r = await req('POST', docPath(ANA_ID, BIRTH, 'up-by-cameron'), { as: CAMERON, ...raw(Buffer.from('note'), 'text/plain', { type: 'note', extension: 'txt' }) });
  assert.is(r.status, 201, r.text);
  assert.is((await req('GET', docPath(ANA_ID, BIRTH, 'up-by-cameron'), { as: ANA })).headers['content-type'], 'text/plain; charset=utf-8');
  await refused('POST', docPath(CAMERON_ID, BIRTH, 'up-by-ana'), { as: ANA, ...raw(Buffer.from('note'), 'text/plain') }, 403, E.forbidden);
});

t('PATCH changes metadata only: bytes and hash stay; hash/size sent back unchanged are accepted, different ones 400', async () => {
  const bytes = randomBytes(777);
  const path = docPath(ANA_ID, BIRTH, 'up-patch');
  const created = await req('POST', path, { as: ANA, ...raw(bytes, 'image/png', { type: 'picture' }) });
  assert.is(created.status, 201);
  const r = await req('PATCH', path, { as: ANA, body: { description: 'Ana, later', context: 'follow-up' } });
  assert.is(r.status, 200, r.text);
  assert.equal(r.json, { ...created.json, description: 'Ana, later', context: 'follow-up' });
  const back = await req('PATCH', path, { as: ANA, body: { ...r.json, description: 'sent back whole' } });
  assert.equal([back.status, back.json.description, back.json.hash, back.json.size], [200, 'sent back whole', sha512(bytes), 777]);
  assert.ok((await req('GET', path, { as: ANA })).bytes.equals(bytes), 'the bytes did not change');
  const badValue = { error: '"hash" and "size" describe the stored bytes and cannot be changed; upload the document again under a new id', code: 'INVALID_VALUE' };
  await refused('PATCH', path, { as: ANA, body: { hash: 'cd'.repeat(64) } }, 400, badValue);
  await refused('PATCH', path, { as: ANA, body: { size: 1 } }, 400, badValue);
  assert.is((await refused('PATCH', path, { as: ANA, body: { pol: 'another-page' } }, 400)).json.code, 'ID_MISMATCH');
  assert.is((await refused('PATCH', path, { as: ANA, body: { extension: 7 } }, 400)).json.code, 'INVALID_VALUE');
  assert.is((await refused('PATCH', path, { as: ANA, raw: '[1]' }, 400)).json.code, 'BODY_NOT_OBJECT');
  await refused('PATCH', docPath(ANA_ID, BIRTH, 'no-such-doc'), { as: ANA, body: { description: 'x' } }, 404, E.notFound('Document'));
  await refused('PATCH', docPath(CAMERON_ID, BIRTH, 'up-patch'), { as: ROOT, body: { description: 'x' } }, 404, E.notFound('Document'));
  await refused('PATCH', docPath(CAMERON_ID, BIRTH, 'up-patch'), { as: ANA, body: { description: 'x' } }, 403, E.forbidden);
  await refused('PATCH', path, { body: { description: 'x' } }, 401, E.unauthenticated);
  const { rows } = await s.db.pool.query(`SELECT count(*)::int AS n FROM audit WHERE record_id = 'up-patch' AND action = 'update' AND status = 200`);
  assert.is(rows[0].n, 2);
});

t('DELETE (root): 204, then 404; the audit row names it', async () => {
  const path = docPath(ANA_ID, BIRTH, 'up-delete');
  assert.is((await req('POST', path, { as: ANA, ...raw(Buffer.from('bye'), 'text/plain') })).status, 201);
  await refused('DELETE', docPath(CAMERON_ID, BIRTH, 'up-delete'), { as: ROOT }, 404, E.notFound('Document'));
  const r = await req('DELETE', path, { as: ROOT });
  assert.equal([r.status, r.text], [204, '']);
  assert.equal((await req('GET', path, { as: ANA })).json, E.notFound('Document'));
  await refused('DELETE', path, { as: ROOT }, 404, E.notFound('Document'));
  const { rows } = await s.db.pool.query(`SELECT actor, person FROM audit WHERE record_id = 'up-delete' AND action = 'delete' AND status = 204`);
  assert.equal(rows, [{ actor: 'ARGBUE111FAV', person: ANA_ID }]);
});

t('parallel uploads wait for a slot (UPLOAD_CONCURRENCY, an account half of them), then 503 UPLOADS_BUSY; none lost or half-stored', async () => {
  const small = await startServer({ uploadConcurrency: 2, listingQueueTimeout: 500 });
  const up = (as: CallOptions['as'], doc: string, body: Buffer | Readable) => call(small.base, 'POST', docPath(ANA_ID, BIRTH, doc), { as, ...raw(body, 'application/octet-stream') });
  try {
    // Ana's first upload holds her slot (one of two) while its body trickles in.
    let finish: () => void = () => undefined;
    const rest = new Promise<void>((resolve) => { finish = resolve; });
    const slow = up(ANA, 'up-slow', Readable.from((async function* () { yield Buffer.alloc(1000, 1); await rest; yield Buffer.alloc(1000, 2); })()));
    await new Promise((r) => setTimeout(r, 200));
    const began = Date.now();
    const busy = await up(ANA, 'up-busy', Buffer.alloc(300_000, 3));
    assert.is(busy.status, 503);
    assert.equal(busy.json, { error: 'Too many uploads are being stored (yours, or on this server); try again shortly', code: 'UPLOADS_BUSY' });
    assert.is(busy.headers['retry-after'], '1');
    assert.ok(Date.now() - began >= 450, 'it waited for a slot first');
    // Another account still finds the worker's second slot.
    assert.is((await up(CAMERON, 'up-other', Buffer.from('other'))).status, 201);
    finish();
    assert.is((await slow).status, 201);
    assert.is((await up(ANA, 'up-after', Buffer.from('after'))).status, 201);

    // Forty at once from one account: each is stored whole or refused whole.
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => up(ANA, `up-many-${i}`, Buffer.alloc(64 * 1024, i))));
    const counts: Record<number, number> = {};
    for (const r of many) counts[r.status] = (counts[r.status] ?? 0) + 1;
    assert.equal(Object.keys(counts).sort(), Object.keys(counts).filter((k) => k === '201' || k === '503').sort(), JSON.stringify(counts));
    const { rows } = await small.db.pool.query<{ n: number; whole: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE octet_length(document) = 65536)::int AS whole FROM personal_docs WHERE id LIKE 'up-many-%'`);
    assert.equal(rows[0], { n: counts[201] ?? 0, whole: counts[201] ?? 0 });
    assert.is((await small.db.pool.query(`SELECT 1 FROM personal_docs WHERE id = 'up-busy'`)).rowCount, 0);
    process.stdout.write(`  [uploads] 40 parallel uploads of one account, 2 slots: ${JSON.stringify(counts)}\n`);
  } finally {
    await small.close();
  }
});

t.run();
