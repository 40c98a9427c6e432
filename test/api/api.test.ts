// Each route of DESIGN §4: its success and each of its refusals, with exact statuses,
// bodies and headers. Every refused write is checked to have changed no row.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, checked, HASH_PATTERN, ANA, CAMERON, ROOT, type Account, type CallOptions, type Response } from '../helpers/http.js';
import { dumpRows, storedData } from '../helpers/rows.js';

const ANA_ID = 'ESPGNU777ORG';
const CAMERON_ID = 'ITAPYT999HON';
const ROOT_ID = 'ARGBUE111FAV';
const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const CERTIFICATE = '2e38f53a-bd03-484b-badb-c5e0a07f0148';
const PICTURE = '5f626a20-5d86-488c-a1e2-844ccf399c72';
const LIMIT = 1024 * 1024;

const E = {
  unauthenticated: { error: 'Valid credentials are required', code: 'UNAUTHENTICATED' },
  forbidden: { error: 'Your roles do not allow this request', code: 'FORBIDDEN' },
  notObject: { error: 'The request body must be a JSON object', code: 'BODY_NOT_OBJECT' },
  idMismatch: { error: 'The body\'s "id" differs from the one in the URL; it cannot be changed', code: 'ID_MISMATCH' },
  bookMismatch: { error: 'The body\'s "book" differs from the one in the URL; it cannot be changed', code: 'ID_MISMATCH' },
  tooLarge: { error: `The request body exceeds ${LIMIT} bytes`, code: 'BODY_TOO_LARGE' },
  methodNotAllowed: { error: 'Method not allowed on this endpoint', code: 'METHOD_NOT_ALLOWED' },
  noRoute: { error: 'No such endpoint', code: 'NO_ROUTE' },
  notFound: (what: string) => ({ error: `${what} not found`, code: 'NOT_FOUND' }),
  exists: (what: string) => ({ error: `${what} already exists`, code: 'ALREADY_EXISTS' }),
};

const t = suite('api');
let s: TestServer;
const req = (method: string, path: string, opts: CallOptions = {}) => call(s.base, method, path, opts);

/** Sends a request that must be refused with `status` (and `body`), and checks no row changed. */
async function refused(method: string, path: string, opts: CallOptions, status: number, body?: unknown): Promise<Response> {
  const before = await dumpRows(s.db.pool);
  const r = await req(method, path, opts);
  assert.is(r.status, status, `${method} ${path}: ${r.text}`);
  if (body !== undefined) assert.equal(r.json, body);
  assert.ok(r.headers['content-type']?.toString().startsWith('application/json'), 'an error is JSON');
  assert.is(await dumpRows(s.db.pool), before, `${method} ${path} (${status}) changed a row`);
  return r;
}

/** The refusals every body-carrying route shares: bad JSON, non-object bodies, 401. */
async function refusesBadBodies(method: string, path: string, as: Account): Promise<void> {
  const bad = await refused(method, path, { as, raw: '{"name": ' }, 400);
  assert.is(bad.json.code, 'INVALID_JSON');
  assert.match(bad.json.error, /^The request body is not valid JSON: /);
  assert.is((await refused(method, path, { as, raw: '' }, 400)).json.code, 'INVALID_JSON');
  for (const raw of ['[1, 2]', '"text"', '42', 'null', 'true']) await refused(method, path, { as, raw }, 400, E.notObject);
  await refused(method, path, { body: {} }, 401, E.unauthenticated);
  await refused(method, path, { as: { user: as.user, password: 'wrong-password' }, body: {} }, 401, E.unauthenticated);
}

t.before(async () => {
  s = await startServer();
  // The first login replaces each demo bcrypt hash by argon2id; do it before any row comparison.
  for (const as of [ANA, CAMERON, ROOT]) assert.is((await req('GET', '/login', { as })).status, 200);
});
t.after(async () => { await s.close(); });

t('GET / is the public HTML index; HEAD / has its headers and no body', async () => {
  const r = await req('GET', '/');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(r.text, /<h1>Thalamus<\/h1>/);
  const h = await req('HEAD', '/');
  assert.is(h.status, 200);
  assert.is(h.text, '');
  assert.is(h.headers['content-type'], 'text/html; charset=utf-8');
  assert.is(h.headers['content-length'], String(r.bytes.length));
});

t('GET /login: 200 true; 401 without, with wrong or malformed credentials, all alike', async () => {
  const ok = await req('GET', '/login', { as: ANA });
  assert.is(ok.status, 200);
  assert.is(ok.text, 'true');
  assert.is(ok.headers['content-type'], 'application/json; charset=utf-8');
  assert.is((await req('GET', '/login', { as: { user: 'espgnu777org', password: 'gnusolidario' } })).status, 200, 'account compared upper-cased');
  const refusals: CallOptions[] = [
    {},
    { as: { user: ANA.user, password: 'wrong' } },
    { as: { user: 'NOSUCH000ACC', password: 'gnusolidario' } },
    { headers: { authorization: 'Basic !!!' } },
    { headers: { authorization: 'Bearer abc' } },
    { headers: { authorization: `Basic ${Buffer.from('no-colon').toString('base64')}` } },
  ];
  for (const opts of refusals) {
    const r = await req('GET', '/login', opts);
    assert.is(r.status, 401);
    assert.equal(r.json, E.unauthenticated);
    assert.is(r.headers['www-authenticate'], 'Basic realm="Thalamus", charset="UTF-8"');
  }
});

t('GET /people: every person without password; 401; 403 for an end user', async () => {
  const r = await req('GET', '/people', { as: ROOT });
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(r.listed!.map((p: { id: string }) => p.id).sort(), [ROOT_ID, ANA_ID, CAMERON_ID]);
  for (const p of r.listed!) assert.not.ok('password' in p, `${p.id} has a password field`);
  assert.equal((await req('GET', '/people', {})).json, E.unauthenticated);
  const denied = await req('GET', '/people', { as: ANA });
  assert.is(denied.status, 403);
  assert.equal(denied.json, E.forbidden);
});

t('?limit=&after= gives keyset pages with Link rel="next"; bad values are 400', async () => {
  const p1 = await req('GET', '/people?limit=2', { as: ROOT });
  assert.is(p1.status, 200);
  assert.equal(p1.listed!.map((p: { id: string }) => p.id), [ROOT_ID, ANA_ID]);
  assert.is(p1.headers.link, `</people?limit=2&after=${ANA_ID}>; rel="next"`);
  const p2 = await req('GET', `/people?limit=2&after=${ANA_ID}`, { as: ROOT });
  assert.equal(p2.listed!.map((p: { id: string }) => p.id), [CAMERON_ID]);
  assert.is(p2.headers.link, undefined);
  for (const p of [...p1.listed!, ...p2.listed!]) assert.not.ok('password' in p);
  const afterOnly = await req('GET', `/people?after=${ROOT_ID}`, { as: ROOT });
  assert.equal(afterOnly.listed!.map((p: { id: string }) => p.id), [ANA_ID, CAMERON_ID]);
  const book = await req('GET', `/pols/${ANA_ID}?limit=1`, { as: ANA });
  assert.equal(book.listed!.map((p: { id: string }) => p.id), [CERTIFICATE]);
  assert.is(book.headers.link, `</pols/${ANA_ID}?limit=1&after=${CERTIFICATE}>; rel="next"`);
  const book2 = await req('GET', `/pols/${ANA_ID}?limit=1&after=${CERTIFICATE}`, { as: ANA });
  assert.equal(book2.listed!.map((p: { id: string }) => p.id), [BIRTH]);
  assert.is(book2.headers.link, undefined);
  for (const q of ['limit=0', 'limit=abc', 'limit=-1', 'limit=1.5', `limit=${s.config.pageLimitMax + 1}`]) {
    const r = await req('GET', `/people?${q}`, { as: ROOT });
    assert.is(r.status, 400, q);
    assert.equal(r.json, { error: `limit must be a whole number from 1 to ${s.config.pageLimitMax}`, code: 'INVALID_QUERY' });
  }
});

t('GET /people/:id: the person without password, id upper-cased; 404; 403; 401', async () => {
  const r = await req('GET', `/people/${ANA_ID}`, { as: ANA });
  assert.is(r.status, 200);
  assert.equal(r.json, {
    id: ANA_ID, name: 'Ana', lastname: 'Betz', dob: '1985-10-04', gender: 'f', biological_sex: 'f', ethnicity: 'latino',
    education: 'tertiary', marital_status: 'married', profession: 'teacher', active: true, roles: ['end_user'],
  });
  assert.equal((await req('GET', '/people/espgnu777org', { as: ANA })).json, r.json);
  const missing = await req('GET', '/people/NOSUCH000ACC', { as: ROOT });
  assert.is(missing.status, 404);
  assert.equal(missing.json, E.notFound('Person'));
  const denied = await req('GET', `/people/${CAMERON_ID}`, { as: ANA });
  assert.is(denied.status, 403);
  assert.equal(denied.json, E.forbidden);
  assert.is((await req('GET', `/people/${ANA_ID}`)).status, 401);
});

t('POST /people/:id: 201 with Location and end_user; 409; 400; 403; 401', async () => {
  const r = await req('POST', '/people/tstapi001', { as: ROOT, body: { name: 'Test', lastname: 'Person' } });
  assert.is(r.status, 201);
  assert.is(r.headers.location, '/people/TSTAPI001');
  assert.equal(r.json, { id: 'TSTAPI001', name: 'Test', lastname: 'Person', roles: ['end_user'] });
  assert.equal(await storedData(s.db.pool, 'people', 'TSTAPI001'), r.json);
  const withId = await req('POST', '/people/TSTAPI002', { as: CAMERON, body: { id: 'tstapi002', name: 'Given id' } });
  assert.is(withId.status, 201, 'an id equal to the URL\'s (any case) is accepted');
  assert.is(withId.json.id, 'TSTAPI002');
  await refused('POST', '/people/TSTAPI001', { as: ROOT, body: { name: 'Again' } }, 409, E.exists('Person'));
  await refused('POST', `/people/${ANA_ID}`, { as: CAMERON, body: {} }, 409, E.exists('Person'));
  await refused('POST', '/people/TSTAPI003', { as: ROOT, body: { id: 'TSTAPI004' } }, 400, E.idMismatch);
  await refused('POST', '/people/TSTAPI003', { as: ROOT, body: { id: 5 } }, 400, E.idMismatch);
  await refused('POST', '/people/TSTAPI003', { as: ROOT, body: { roles: 'root' } }, 400, { error: '"roles" must be a list of role names', code: 'INVALID_VALUE' });
  await refused('POST', '/people/TSTAPI003', { as: ROOT, body: { active: 'yes' } }, 400, { error: '"active" must be true or false', code: 'INVALID_VALUE' });
  await refusesBadBodies('POST', '/people/TSTAPI003', ROOT);
  await refused('POST', '/people/TSTAPI003', { as: ANA, body: { name: 'x' } }, 403, E.forbidden);
  await refused('POST', `/people/${ANA_ID}`, { as: ANA, body: { name: 'x' } }, 403, E.forbidden);
});

t('PATCH /people/:id: 200 merged; 404; 400 changing id; 403; 401', async () => {
  await req('POST', '/people/TSTAPI010', { as: ROOT, body: { name: 'Before', lastname: 'Kept', address: { city: 'Milano' } } });
  const r = await req('PATCH', '/people/tstapi010', { as: ROOT, body: { name: 'After', address: { city: 'Roma' }, phone: '+39 1' } });
  assert.is(r.status, 200);
  assert.equal(r.json, { id: 'TSTAPI010', name: 'After', lastname: 'Kept', address: { city: 'Roma' }, phone: '+39 1', roles: ['end_user'] });
  assert.equal(await storedData(s.db.pool, 'people', 'TSTAPI010'), r.json);
  const own = await req('PATCH', `/people/${ANA_ID}`, { as: ANA, body: { phone: '+39 2' } });
  assert.is(own.status, 200);
  assert.is(own.json.phone, '+39 2');
  assert.is(own.json.name, 'Ana');
  await refused('PATCH', '/people/NOSUCH000ACC', { as: ROOT, body: { name: 'x' } }, 404, E.notFound('Person'));
  await refused('PATCH', '/people/TSTAPI010', { as: ROOT, body: { id: 'TSTAPI011' } }, 400, E.idMismatch);
  await refusesBadBodies('PATCH', '/people/TSTAPI010', ROOT);
  await refused('PATCH', `/people/${CAMERON_ID}`, { as: ANA, body: { name: 'x' } }, 403, E.forbidden);
});

t('DELETE /people/:id: 409 while active or with pages, then 204; 404; 403', async () => {
  await req('POST', '/people/TSTAPI020', { as: ROOT, body: { name: 'To delete', active: true } });
  await refused('DELETE', '/people/TSTAPI020', { as: ROOT }, 409, { error: 'Deactivate the person ("active": false) before deleting them', code: 'PERSON_IN_USE' });
  await req('POST', '/people/TSTAPI021', { as: ROOT, body: { name: 'No active field' } });
  await refused('DELETE', '/people/TSTAPI021', { as: ROOT }, 409, { error: 'Deactivate the person ("active": false) before deleting them', code: 'PERSON_IN_USE' });
  assert.is((await req('PATCH', '/people/TSTAPI020', { as: ROOT, body: { active: false } })).status, 200);
  assert.is((await req('POST', '/pols/TSTAPI020/tstapi-page-020', { as: ROOT, body: { summary: 'x' } })).status, 201);
  await refused('DELETE', '/people/TSTAPI020', { as: ROOT }, 409, { error: 'The person still has pages or documents', code: 'PERSON_IN_USE' });
  await refused('DELETE', `/people/${ANA_ID}`, { as: ROOT }, 409);
  await refused('DELETE', '/people/TSTAPI020', { as: CAMERON }, 403, E.forbidden);
  await refused('DELETE', '/people/TSTAPI020', {}, 401, E.unauthenticated);
  assert.is((await req('DELETE', '/pols/TSTAPI020/tstapi-page-020', { as: ROOT })).status, 204);
  const r = await req('DELETE', '/people/tstapi020', { as: ROOT });
  assert.is(r.status, 204);
  assert.is(r.text, '');
  assert.is(await storedData(s.db.pool, 'people', 'TSTAPI020'), undefined);
  assert.is((await req('GET', '/people/TSTAPI020', { as: ROOT })).status, 404);
  await refused('DELETE', '/people/TSTAPI020', { as: ROOT }, 404, E.notFound('Person'));
});

t('GET /pols/:id: the book; 404 unknown person; 403; 401', async () => {
  const r = await req('GET', `/pols/${ANA_ID}`, { as: ANA });
  assert.is(r.status, 200);
  const pages = [...r.listed!].sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id));
  assert.equal(pages.map((p: { id: string }) => p.id), [CERTIFICATE, BIRTH]);
  assert.equal(pages.map((p: { book: string }) => p.book), [ANA_ID, ANA_ID]);
  assert.is(pages[1].summary, 'Single spontaneous delivery');
  assert.is(pages[1].health_condition_code, 'O80');
  assert.equal((await req('GET', `/pols/${CAMERON_ID}`, { as: CAMERON })).json, []);
  const missing = await req('GET', '/pols/NOSUCH000ACC', { as: ROOT });
  assert.is(missing.status, 404);
  assert.equal(missing.json, E.notFound('Person'));
  assert.equal((await req('GET', `/pols/${CAMERON_ID}`, { as: ANA })).json, E.forbidden);
  assert.equal((await req('GET', `/pols/${ANA_ID}`)).json, E.unauthenticated);
});

t('GET /pols/:id/:page: the page; 404; 403', async () => {
  const r = await req('GET', `/pols/${ANA_ID}/${BIRTH}`, { as: ANA });
  assert.is(r.status, 200);
  assert.is(r.json.id, BIRTH);
  assert.is(r.json.book, ANA_ID);
  assert.is(r.json.medical_context, 'birth');
  assert.is(r.json.node, 'Milano General Hospital');
  assert.equal((await req('GET', `/pols/espgnu777org/${BIRTH}`, { as: ANA })).json, r.json);
  const missing = await req('GET', `/pols/${ANA_ID}/no-such-page`, { as: ANA });
  assert.is(missing.status, 404);
  assert.equal(missing.json, E.notFound('Page'));
  assert.equal((await req('GET', `/pols/${CAMERON_ID}/${BIRTH}`, { as: ANA })).json, E.forbidden);
});

t('POST /pols/:id/:page: 201 with Location; 404 unknown person; 409; 400; 403', async () => {
  const body = { page_type: 'medical', summary: 'Checkup', creation_info: { user: ANA_ID, node: 'test' } };
  const r = await req('POST', '/pols/espgnu777org/tstapi-page-001', { as: ANA, body });
  assert.is(r.status, 201);
  assert.is(r.headers.location, `/pols/${ANA_ID}/tstapi-page-001`);
  assert.equal(r.json, { ...body, id: 'tstapi-page-001', book: ANA_ID });
  const { rows } = await s.db.pool.query('SELECT book, data FROM pols WHERE id = $1', ['tstapi-page-001']);
  assert.equal(rows, [{ book: ANA_ID, data: r.json }]);
  const same = await req('POST', '/pols/ESPGNU777ORG/tstapi-page-002', { as: ANA, body: { id: 'tstapi-page-002', book: 'espgnu777org' } });
  assert.is(same.status, 201, 'a body naming the same page and book is accepted');
  await refused('POST', '/pols/NOSUCH000ACC/tstapi-page-003', { as: ROOT, body: {} }, 404, E.notFound('Person'));
  await refused('POST', `/pols/${ANA_ID}/tstapi-page-001`, { as: ANA, body: { summary: 'x' } }, 409, E.exists('Page'));
  await refused('POST', `/pols/${CAMERON_ID}/${BIRTH}`, { as: CAMERON, body: { summary: 'x' } }, 409, E.exists('Page'));
  await refused('POST', `/pols/${ANA_ID}/tstapi-page-003`, { as: ANA, body: { id: 'other' } }, 400, E.idMismatch);
  await refused('POST', `/pols/${ANA_ID}/tstapi-page-003`, { as: ANA, body: { book: CAMERON_ID } }, 400, E.bookMismatch);
  await refusesBadBodies('POST', `/pols/${ANA_ID}/tstapi-page-003`, ANA);
  await refused('POST', `/pols/${CAMERON_ID}/tstapi-page-003`, { as: ANA, body: {} }, 403, E.forbidden);
});

t('PATCH /pols/:id/:page: 200 merged; 404; 400 changing id or book; 403', async () => {
  await req('POST', `/pols/${ANA_ID}/tstapi-page-010`, { as: ANA, body: { summary: 'Before', info: 'Kept' } });
  const r = await req('PATCH', `/pols/${ANA_ID}/tstapi-page-010`, { as: ANA, body: { summary: 'After' } });
  assert.is(r.status, 200);
  assert.equal(r.json, { id: 'tstapi-page-010', book: ANA_ID, summary: 'After', info: 'Kept' });
  assert.equal(await storedData(s.db.pool, 'pols', 'tstapi-page-010'), r.json);
  await refused('PATCH', `/pols/${ANA_ID}/no-such-page`, { as: ANA, body: { summary: 'x' } }, 404, E.notFound('Page'));
  await refused('PATCH', '/pols/NOSUCH000ACC/tstapi-page-010', { as: ROOT, body: { summary: 'x' } }, 404, E.notFound('Page'));
  await refused('PATCH', `/pols/${ANA_ID}/tstapi-page-010`, { as: ANA, body: { id: 'tstapi-page-011' } }, 400, E.idMismatch);
  await refused('PATCH', `/pols/${ANA_ID}/tstapi-page-010`, { as: ANA, body: { book: CAMERON_ID } }, 400, E.bookMismatch);
  await refusesBadBodies('PATCH', `/pols/${ANA_ID}/tstapi-page-010`, ANA);
  await refused('PATCH', `/pols/${CAMERON_ID}/tstapi-page-010`, { as: ANA, body: {} }, 403, E.forbidden);
});

t('DELETE /pols/:id/:page: 204; 404; 409 while documents remain; 403', async () => {
  await req('POST', `/pols/${ANA_ID}/tstapi-page-020`, { as: ANA, body: { summary: 'Gone soon' } });
  await refused('DELETE', `/pols/${ANA_ID}/tstapi-page-020`, { as: ANA }, 403, E.forbidden);
  await refused('DELETE', `/pols/${CAMERON_ID}/tstapi-page-020`, { as: ROOT }, 404, E.notFound('Page'));
  await refused('DELETE', `/pols/${ANA_ID}/${BIRTH}`, { as: ROOT }, 409, { error: 'The page still has personal documents', code: 'PAGE_IN_USE' });
  const r = await req('DELETE', `/pols/${ANA_ID}/tstapi-page-020`, { as: ROOT });
  assert.is(r.status, 204);
  assert.is(r.text, '');
  assert.is(await storedData(s.db.pool, 'pols', 'tstapi-page-020'), undefined);
  await refused('DELETE', `/pols/${ANA_ID}/tstapi-page-020`, { as: ROOT }, 404, E.notFound('Page'));
});

t('GET /personal_docs/:id and /:id/:page: metadata without bytes; 404; 403', async () => {
  const expected = [{
    id: PICTURE, fedacct: ANA_ID, pol: BIRTH, size: (await docBytes()).length, document_type: 'picture', extension: 'jpg',
    context: 'identification', description: 'Ana at birth', hash: createHash('sha512').update(await docBytes()).digest('hex'),
  }];
  const all = await req('GET', `/personal_docs/${ANA_ID}`, { as: ANA });
  assert.is(all.status, 200);
  assert.equal(all.listed, expected);
  const page = await req('GET', `/personal_docs/${ANA_ID}/${BIRTH}`, { as: ANA });
  assert.is(page.status, 200);
  assert.equal(page.listed, expected);
  assert.equal((await req('GET', `/personal_docs/${ANA_ID}/${CERTIFICATE}`, { as: ANA })).json, []);
  assert.equal((await req('GET', `/personal_docs/${CAMERON_ID}`, { as: CAMERON })).json, []);
  assert.equal((await req('GET', '/personal_docs/NOSUCH000ACC', { as: ROOT })).json, E.notFound('Person'));
  assert.equal((await req('GET', `/personal_docs/${ANA_ID}/no-such-page`, { as: ANA })).json, E.notFound('Page'));
  assert.equal((await req('GET', `/personal_docs/${CAMERON_ID}/${BIRTH}`, { as: ROOT })).json, E.notFound('Page'));
  assert.equal((await req('GET', `/personal_docs/${CAMERON_ID}`, { as: ANA })).json, E.forbidden);
  assert.equal((await req('GET', `/personal_docs/${CAMERON_ID}/${BIRTH}`, { as: ANA })).json, E.forbidden);
});

async function docBytes(): Promise<Buffer> {
  const { rows } = await s.db.pool.query<{ document: Buffer }>('SELECT document FROM personal_docs WHERE id = $1', [PICTURE]);
  return rows[0]!.document;
}

t('GET /personal_docs/:id/:page/:doc: bytes, content type, ETag, 304; HEAD; 404; 403', async () => {
  const path = `/personal_docs/${ANA_ID}/${BIRTH}/${PICTURE}`;
  const bytes = await docBytes();
  const r = await req('GET', path, { as: ANA });
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'image/jpeg');
  assert.ok(r.bytes.equals(bytes), 'the stored bytes');
  assert.is(r.bytes.subarray(0, 2).toString('hex'), 'ffd8');
  assert.is(r.headers['content-length'], String(bytes.length));
  const etag = String(r.headers.etag);
  assert.match(etag, /^"[0-9a-f]{64}"$/);
  const again = await req('GET', path, { as: CAMERON });
  assert.is(again.headers.etag, etag, 'the ETag is stable');
  const cached = await req('GET', path, { as: ANA, headers: { 'if-none-match': etag } });
  assert.is(cached.status, 304);
  assert.is(cached.text, '');
  assert.is(cached.headers.etag, etag);
  assert.is((await req('GET', path, { as: ANA, headers: { 'if-none-match': `"0", ${etag}` } })).status, 304);
  assert.is((await req('GET', path, { as: ANA, headers: { 'if-none-match': '"stale"' } })).status, 200);
  // If-None-Match compares weakly, and `*` matches any stored document.
  assert.is((await req('GET', path, { as: ANA, headers: { 'if-none-match': `W/${etag}` } })).status, 304);
  assert.is((await req('GET', path, { as: ANA, headers: { 'if-none-match': '*' } })).status, 304);
  const head = await req('HEAD', path, { as: ANA });
  assert.is(head.status, 200);
  assert.is(head.text, '');
  assert.is(head.headers['content-type'], 'image/jpeg');
  assert.is(head.headers.etag, etag);
  assert.is(head.headers['content-length'], String(bytes.length), 'HEAD has the length GET sends');
  assert.equal((await req('GET', `/personal_docs/${ANA_ID}/${BIRTH}/no-such-doc`, { as: ANA })).json, E.notFound('Document'));
  assert.equal((await req('GET', `/personal_docs/${ANA_ID}/${CERTIFICATE}/${PICTURE}`, { as: ANA })).json, E.notFound('Document'));
  assert.equal((await req('GET', `/personal_docs/${CAMERON_ID}/${BIRTH}/${PICTURE}`, { as: ROOT })).json, E.notFound('Document'));
  assert.equal((await req('GET', `/personal_docs/${CAMERON_ID}/${BIRTH}/${PICTURE}`, { as: ANA })).json, E.forbidden);
  assert.equal((await req('GET', path)).json, E.unauthenticated);
});

for (const [listing, one, noun, id, name] of [
  ['/domiciliary-units', '/domiciliary-units', 'Domiciliary unit', 'ESPGNUDU001', 'ESPGNUDU001'],
  ['/institutions', '/institutions', 'Institution', 'ITMIGH001', 'Milano General Hospital'],
] as const) {
  t(`GET ${listing} and GET/POST/PATCH ${one}/:id: successes, 404, 409, 400, 403`, async () => {
    const list = await req('GET', listing, { as: CAMERON });
    assert.is(list.status, 200);
    assert.equal(list.listed!.map((r: { id: string }) => r.id), [id]);
    assert.equal((await req('GET', listing, { as: ANA })).json, E.forbidden);
    const r = await req('GET', `${one}/${id}`, { as: CAMERON });
    assert.is(r.status, 200);
    assert.is(r.json.name, name);
    assert.equal(r.json, list.listed![0]);
    assert.equal((await req('GET', `${one}/no-such-id`, { as: ROOT })).json, E.notFound(noun));
    assert.equal((await req('GET', `${one}/${id.toLowerCase()}`, { as: ROOT })).json, E.notFound(noun), 'ids here keep their case');
    assert.equal((await req('GET', `${one}/${id}`, { as: ANA })).json, E.forbidden);
    const created = await req('POST', `${one}/tst-new`, { as: ROOT, body: { name: 'New one', size: 3 } });
    assert.is(created.status, 201);
    assert.is(created.headers.location, `${one}/tst-new`);
    assert.equal(created.json, { id: 'tst-new', name: 'New one', size: 3 });
    const patched = await req('PATCH', `${one}/tst-new`, { as: ROOT, body: { size: 4 } });
    assert.equal([patched.status, patched.json], [200, { id: 'tst-new', name: 'New one', size: 4 }]);
    assert.equal(await storedData(s.db.pool, listing === '/institutions' ? 'institutions' : 'dus', 'tst-new'), patched.json);
    await refused('POST', `${one}/${id}`, { as: ROOT, body: {} }, 409, E.exists(noun));
    await refused('POST', `${one}/tst-other`, { as: ROOT, body: { id: 'tst-else' } }, 400, E.idMismatch);
    await refused('PATCH', `${one}/tst-new`, { as: ROOT, body: { id: 'tst-else' } }, 400, E.idMismatch);
    await refused('PATCH', `${one}/no-such-id`, { as: ROOT, body: { name: 'x' } }, 404, E.notFound(noun));
    await refusesBadBodies('POST', `${one}/tst-other`, ROOT);
    await refusesBadBodies('PATCH', `${one}/tst-new`, ROOT);
    await refused('POST', `${one}/tst-other`, { as: CAMERON, body: {} }, 403, E.forbidden);
    await refused('PATCH', `${one}/${id}`, { as: CAMERON, body: { name: 'x' } }, 403, E.forbidden);
  });
}

t('405 with Allow for a method a route lacks; 404 NO_ROUTE for an unknown path', async () => {
  const cases: Array<[string, string, string]> = [
    ['PUT', `/people/${ANA_ID}`, 'GET, HEAD, POST, PATCH, DELETE, OPTIONS'],
    ['DELETE', '/domiciliary-units/ESPGNUDU001', 'GET, HEAD, POST, PATCH, OPTIONS'],
    ['POST', '/people', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/login', 'GET, HEAD, OPTIONS'],
    ['PUT', `/personal_docs/${ANA_ID}/${BIRTH}/${PICTURE}`, 'GET, HEAD, POST, PATCH, DELETE, OPTIONS'],
  ];
  for (const [method, path, allow] of cases) {
    const r = await refused(method, path, { as: ROOT, body: {} }, 405, E.methodNotAllowed);
    assert.is(r.headers.allow, allow, `${method} ${path}`);
  }
  for (const path of ['/nothing', '/people/A/B', '/pols', `/personal_docs/${ANA_ID}/${BIRTH}/${PICTURE}/x`]) {
    const r = await req('GET', path, { as: ROOT });
    assert.is(r.status, 404, path);
    assert.equal(r.json, E.noRoute);
  }
});

t('HEAD is answered as GET without a body, and checked as GET', async () => {
  for (const [path, as] of [[`/people/${ANA_ID}`, ANA], [`/pols/${ANA_ID}/${BIRTH}`, ANA], ['/login', ROOT]] as const) {
    const get = await req('GET', path, { as });
    const head = await req('HEAD', path, { as });
    assert.is(head.status, 200, path);
    assert.is(head.text, '');
    assert.is(head.headers['content-type'], get.headers['content-type']);
    assert.is(head.headers['content-length'], String(get.bytes.length));
  }
  for (const path of ['/people', `/pols/${ANA_ID}`, `/personal_docs/${ANA_ID}`, '/institutions', '/people?limit=1']) {
    const head = await req('HEAD', path, { as: ROOT });
    assert.is(head.status, 200, path);
    assert.is(head.text, '');
    assert.is(head.headers['content-type'], 'application/json; charset=utf-8');
  }
  const denied = await req('HEAD', '/people', { as: ANA });
  assert.is(denied.status, 403);
  assert.is(denied.text, '');
  assert.is((await req('HEAD', `/people/${ANA_ID}`)).status, 401);
  assert.is((await req('HEAD', '/people/NOSUCH000ACC', { as: ROOT })).status, 404);
  assert.is((await req('HEAD', '/pols/NOSUCH000ACC', { as: ROOT })).status, 404);
});

t('OPTIONS: an unauthenticated preflight echoing the requested headers; CORS headers on answers', async () => {
  const r = await req('OPTIONS', `/people/${ANA_ID}`, {
    headers: { origin: 'https://portal.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,content-type,x-custom' },
  });
  assert.is(r.status, 204);
  assert.is(r.text, '');
  assert.is(r.headers['access-control-allow-origin'], '*');
  assert.is(r.headers['access-control-allow-headers'], 'authorization,content-type,x-custom');
  assert.match(String(r.headers['access-control-allow-methods']), /\bPATCH\b/);
  assert.match(String(r.headers['access-control-expose-headers']), /\bLocation\b.*\bLink\b/);
  for (const path of ['/login', '/people', '/nothing', `/personal_docs/${ANA_ID}/${BIRTH}/${PICTURE}`]) {
    assert.is((await req('OPTIONS', path, { headers: { origin: 'https://portal.example' } })).status, 204, path);
  }
  const get = await req('GET', `/people/${ANA_ID}`, { as: ANA, headers: { origin: 'https://portal.example' } });
  assert.is(get.headers['access-control-allow-origin'], '*');
  assert.match(String(get.headers['access-control-expose-headers']), /\bLocation\b.*\bLink\b/);
  const error = await req('GET', `/people/${ANA_ID}`, { headers: { origin: 'https://portal.example' } });
  assert.is(error.status, 401);
  assert.is(error.headers['access-control-allow-origin'], '*', 'errors carry CORS headers too');
});

t('CORS_ORIGINS with named origins: only those are allowed, with Vary: Origin', async () => {
  const named = await startServer({ corsOrigins: ['https://portal.example'] });
  try {
    const headers = { origin: 'https://portal.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' };
    const ok = await call(named.base, 'OPTIONS', '/login', { headers });
    assert.is(ok.status, 204);
    assert.is(ok.headers['access-control-allow-origin'], 'https://portal.example');
    assert.is(ok.headers['access-control-allow-headers'], 'authorization');
    assert.match(String(ok.headers.vary), /Origin/);
    const other = await call(named.base, 'OPTIONS', '/login', { headers: { ...headers, origin: 'https://evil.example' } });
    assert.is(other.headers['access-control-allow-origin'], undefined);
    assert.is(other.headers['access-control-allow-headers'], undefined);
    const answer = await call(named.base, 'GET', '/login', { headers: { origin: 'https://portal.example' } });
    assert.is(answer.status, 401);
    assert.is(answer.headers['access-control-allow-origin'], 'https://portal.example');
    assert.is((await call(named.base, 'GET', '/login', { headers: { origin: 'https://evil.example' } })).headers['access-control-allow-origin'], undefined);
  } finally {
    await named.close();
  }
});

t('the query string is ignored outside listings', async () => {
  const plain = await req('GET', `/people/${ANA_ID}`, { as: ANA });
  for (const q of ['?foo=bar', `?${ANA_ID}`, '?limit=1&after=X', '?limit=abc']) {
    const r = await req('GET', `/people/${ANA_ID}${q}`, { as: ANA });
    assert.is(r.status, 200, q);
    assert.equal(r.json, plain.json);
  }
  assert.is((await req('GET', '/login?x=1', { as: ANA })).text, 'true');
  const page = await req('GET', `/pols/${ANA_ID}/${BIRTH}?limit=0`, { as: ANA });
  assert.is(page.json.id, BIRTH);
  const created = await req('POST', `/pols/${ANA_ID}/tstapi-page-030?id=other&book=x`, { as: ANA, body: { summary: 'q' } });
  assert.is(created.status, 201);
  assert.is(created.headers.location, `/pols/${ANA_ID}/tstapi-page-030`);
  const doc = await req('GET', `/personal_docs/${ANA_ID}/${BIRTH}/${PICTURE}?download=1`, { as: ANA });
  assert.is(doc.headers['content-type'], 'image/jpeg');
});

t('413 for a body over BODY_LIMIT, with Content-Length and chunked; the client reads the JSON', async () => {
  const path = '/people/TSTAPI040';
  const r = await refused('POST', path, { as: ROOT, raw: Buffer.alloc(LIMIT + 1, 32) }, 413, E.tooLarge);
  assert.is(r.headers.connection, 'close');
  await refused('POST', path, { as: ROOT, raw: Buffer.alloc(8 * LIMIT, 32) }, 413, E.tooLarge);
  const chunked = () => Readable.from((function* () { for (let i = 0; i < 24; i++) yield Buffer.alloc(128 * 1024, 32); })());
  await refused('POST', path, { as: ROOT, raw: chunked() }, 413, E.tooLarge);
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, raw: chunked() }, 413, E.tooLarge);
  await refused('POST', `/pols/${ANA_ID}/tstapi-page-040`, { as: ANA, raw: Buffer.alloc(2 * LIMIT, 32) }, 413, E.tooLarge);
  // A body of exactly the limit is accepted.
  const exact = `{"pad":"${'x'.repeat(LIMIT - 10)}"}`;
  assert.is(Buffer.byteLength(exact), LIMIT);
  assert.is((await req('POST', '/domiciliary-units/tst-exact', { as: ROOT, raw: exact })).status, 201);
  assert.is((await req('GET', `/people/${ANA_ID}`, { as: ANA })).status, 200, 'the server still answers');
});

t('bodies are JSON whatever the Content-Type, chunked or not; nesting, NUL and bad ids are 400', async () => {
  for (const [i, type] of ['application/x-www-form-urlencoded', 'text/plain', 'application/octet-stream', 'application/json; charset=latin1'].entries()) {
    const r = await req('POST', `/pols/${ANA_ID}/tstapi-type-${i}`, { as: ANA, raw: '{"summary": "typed"}', headers: { 'content-type': type } });
    assert.equal([r.status, r.json.summary], [201, 'typed'], type);
  }
  const chunked = await req('POST', `/pols/${ANA_ID}/tstapi-chunked`, { as: ANA, raw: Readable.from([Buffer.from('{"summary": '), Buffer.from('"in chunks"}')]) });
  assert.equal([chunked.status, chunked.json.summary], [201, 'in chunks']);
  const deep = `${'{"a":'.repeat(80)}1${'}'.repeat(80)}`;
  await refused('POST', `/pols/${ANA_ID}/tstapi-deep`, { as: ANA, raw: deep }, 400, { error: 'The request body nests deeper than 64 levels', code: 'BODY_TOO_DEEP' });
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, raw: deep }, 400, { error: 'The request body nests deeper than 64 levels', code: 'BODY_TOO_DEEP' });
  const nul = await refused('POST', `/pols/${ANA_ID}/tstapi-nul`, { as: ANA, raw: '{"summary": "a\\u0000b"}' }, 400);
  assert.is(nul.json.code, 'INVALID_VALUE');
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, raw: '{"name": "a\\u0000b"}' }, 400);
  for (const path of ['/people/A%2FB', '/people/A%00B', `/pols/${ANA_ID}/a%5Cb`, `/people/${'X'.repeat(256)}`, '/domiciliary-units/a%25b']) {
    const r = await req('GET', path, { as: ROOT });
    assert.is(r.status, 400, path);
    assert.is(r.json.code, 'INVALID_ID', path);
  }
  await refused('POST', '/people/A%2FB', { as: ROOT, body: {} }, 400);
});

t('a refusal before the body is read (401, 403) still reaches a client sending a large body', async () => {
  const big = Buffer.alloc(3 * LIMIT, 32);
  await refused('POST', '/people/TSTAPI050', { raw: big }, 401, E.unauthenticated);
  await refused('POST', `/pols/${CAMERON_ID}/tstapi-page-050`, { as: ANA, raw: big }, 403, E.forbidden);
  assert.is((await req('GET', '/login', { as: ANA })).status, 200);
});

t('X-Request-Id: a valid one is echoed, otherwise one is made', async () => {
  const r = await req('GET', '/login', { as: ANA, headers: { 'x-request-id': 'client-abc.123' } });
  assert.is(r.headers['x-request-id'], 'client-abc.123');
  const made = await req('GET', '/login', { as: ANA, headers: { 'x-request-id': 'bad id with spaces' } });
  assert.match(String(made.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.is(r.headers['x-content-type-options'], 'nosniff');
});

t('a listing larger than one cursor batch streams as one valid array; Link pages walk all of it', async () => {
  await s.db.pool.query(`INSERT INTO institutions (id, data)
    SELECT 'tst-inst-' || lpad(i::text, 4, '0'), jsonb_build_object('id', 'tst-inst-' || lpad(i::text, 4, '0'), 'n', i)
    FROM generate_series(1, 1234) i`);
  const { rows } = await s.db.pool.query<{ id: string }>('SELECT id FROM institutions ORDER BY id');
  const all = await req('GET', '/institutions', { as: ROOT });
  assert.is(all.status, 200);
  assert.equal(all.listed!.map((r: { id: string }) => r.id).sort(), rows.map((r) => r.id).sort());
  const walked: string[] = [];
  let next: string | undefined = '/institutions?limit=500';
  let pages = 0;
  while (next) {
    const page = await req('GET', next, { as: ROOT });
    assert.is(page.status, 200);
    walked.push(...page.listed!.map((r: { id: string }) => r.id));
    const link = page.headers.link as string | undefined;
    next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : undefined;
    pages++;
  }
  assert.is(pages, Math.ceil(rows.length / 500));
  assert.equal(walked, rows.map((r) => r.id));
});

t('listings default to upstream\'s row shape, which the portal reads as person[0].id; single records stay objects', async () => {
  const people = await call(s.base, 'GET', '/people', { as: ROOT });
  assert.is(people.status, 200);
  assert.is(people.headers['content-type'], 'application/json; charset=utf-8');
  // Demographics.vue: `v-for="person in people"` ... `person[0].id`, `person[0].name`.
  const portal = (people.json as Array<Array<{ id: string; name: string }>>).map((person) => [person[0]!.id, person[0]!.name]);
  const demo = [ROOT_ID, ANA_ID, CAMERON_ID];
  assert.equal(portal.filter(([id]) => demo.includes(id!)), [[ROOT_ID, 'Admin'], [ANA_ID, 'Ana'], [CAMERON_ID, 'Cameron']]);
  for (const row of people.json) assert.ok(Array.isArray(row) && row.length === 1 && !('password' in row[0]));
  const book = await call(s.base, 'GET', `/pols/${ANA_ID}`, { as: ROOT });
  const ids = book.json.map((row: Array<{ id: string }>) => row[0]!.id);
  assert.equal(ids.filter((id: string) => [CERTIFICATE, BIRTH].includes(id)), [CERTIFICATE, BIRTH], 'in id order');
  assert.equal(ids, [...ids].sort());
  const paged = await call(s.base, 'GET', '/people?limit=1', { as: ROOT });
  assert.equal(paged.json, [[people.listed!.find((p) => p.id === ROOT_ID)]]);
  assert.is(paged.headers.link, `</people?limit=1&after=${ROOT_ID}>; rel="next"`);
  for (const path of ['/institutions', '/domiciliary-units', `/personal_docs/${ANA_ID}`, `/personal_docs/${ANA_ID}/${BIRTH}`]) {
    const rows = (await call(s.base, 'GET', path, { as: ROOT })).json as unknown[][];
    assert.ok(rows.length > 0 && rows.every((r) => Array.isArray(r) && r.length === 1), path);
  }
  const audit = await call(s.base, 'GET', '/audit?limit=1', { as: ROOT });
  assert.ok(!Array.isArray(audit.json[0]), 'our own listings (audit) are objects');
  assert.is((await call(s.base, 'GET', `/people/${ANA_ID}`, { as: ROOT })).json.id, ANA_ID);
});

t('Accept: application/x-ndjson streams one object per line on any listing and page; LISTING_SHAPE = objects', async () => {
  const nd = await call(s.base, 'GET', '/people', { as: ROOT, headers: { accept: 'application/x-ndjson' } });
  assert.is(nd.status, 200);
  assert.is(nd.headers['content-type'], 'application/x-ndjson');
  assert.ok(nd.text.endsWith('\n'));
  const lines = nd.text.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.map((p) => p.id), (await call(s.base, 'GET', '/people', { as: ROOT })).listed!.map((p) => p.id));
  assert.ok(lines.length >= 3);
  const page = await call(s.base, 'GET', '/people?limit=2', { as: ROOT, headers: { accept: 'application/json, application/x-ndjson;q=0.9' } });
  assert.equal(page.text.trimEnd().split('\n').map((l) => JSON.parse(l).id), lines.slice(0, 2).map((p) => p.id));
  assert.is(page.headers.link, `</people?limit=2&after=${lines[1].id}>; rel="next"`);
  const empty = await call(s.base, 'GET', `/pols/${CAMERON_ID}`, { as: ROOT, headers: { accept: 'application/x-ndjson' } });
  assert.equal([empty.status, empty.text, empty.headers['content-type']], [200, '', 'application/x-ndjson']);
  const head = await call(s.base, 'HEAD', '/people', { as: ROOT, headers: { accept: 'application/x-ndjson' } });
  assert.is(head.headers['content-type'], 'application/x-ndjson');
  const objects = await startServer({ listingShape: 'objects' });
  try {
    const r = await call(objects.base, 'GET', '/people', { as: ROOT });
    assert.equal(r.json.map((p: { id: string }) => p.id), [ROOT_ID, ANA_ID, CAMERON_ID]);
    const n = await call(objects.base, 'GET', '/institutions', { as: ROOT, headers: { accept: 'application/x-ndjson' } });
    assert.equal(n.text.split('\n').map((l) => (l ? JSON.parse(l).id : l)), ['ITMIGH001', '']);
  } finally {
    await objects.close();
  }
});

t('the suite-wide hash check recognises every stored hash kind, and ran on each body', async () => {
  const { rows } = await s.db.pool.query<{ hash: string }>(`SELECT data->>'password' AS hash FROM people WHERE data ? 'password'`);
  assert.ok(rows.length >= 3);
  for (const { hash } of rows) assert.match(hash, HASH_PATTERN);
  for (const hash of ['$2a$12$abc', '$2y$10$abc', '$argon2i$v=19$m=1', '$argon2d$v=19$m=1']) assert.match(hash, HASH_PATTERN);
  assert.ok(checked.bodies > 200, `${checked.bodies} bodies checked`);
});

t.run();
