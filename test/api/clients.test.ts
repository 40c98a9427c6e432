// The requests real clients send, as they send them: MyGNUHealth (Python requests,
// `data=json.dumps(...)`, so no Content-Type), an HMIS node of GNU Health, the web
// portal behind a CORS preflight, and a locator client.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type Account, type CallOptions } from '../helpers/http.js';
import { storedData } from '../helpers/rows.js';

/** What Python's requests library sends besides the body: no Content-Type with `data=`. */
const PYTHON_REQUESTS = { 'user-agent': 'python-requests/2.31.0', accept: '*/*', 'accept-encoding': 'gzip, deflate' };

const t = suite('clients');
let s: TestServer;
const req = (method: string, path: string, opts: CallOptions = {}) => call(s.base, method, path, opts);

t.before(async () => { s = await startServer(); });
t.after(async () => { await s.close(); });

t('MyGNUHealth tests its connection with GET /people/<own account>', async () => {
  const r = await req('GET', `/people/${ANA.user}`, { as: ANA, headers: PYTHON_REQUESTS });
  assert.is(r.status, 200);
  assert.is(r.json.id, ANA.user);
  assert.is(r.json.active, true);
  assert.not.ok('password' in r.json);
  const typed = await req('GET', '/people/espgnu777org', { as: { user: 'espgnu777org', password: ANA.password }, headers: PYTHON_REQUESTS });
  assert.is(typed.status, 200, 'an account typed in lower case');
  assert.is((await req('GET', `/people/${ANA.user}`, { as: { ...ANA, password: 'typo' }, headers: PYTHON_REQUESTS })).status, 401);
});

t('MyGNUHealth posts a page to /pols/<acct>/<uuid> with no Content-Type, `id` and `creation_info`', async () => {
  const id = randomUUID();
  const page = {
    id,
    fed_account: ANA.user,
    page_date: '2026-11-28T10:00:00',
    page_type: 'medical',
    medical_context: 'self_monitoring',
    relevance: 'normal',
    summary: 'Blood pressure',
    info: '',
    node: 'MyGNUHealth',
    author: 'Ana Betz',
    author_acct: ANA.user,
    measurements: [{ bp: { systolic: 118, diastolic: 76 }, hr: 64 }],
    creation_info: { user: ANA.user, timestamp: '2026-11-28T10:00:05', node: 'MyGNUHealth' },
  };
  const r = await req('POST', `/pols/${ANA.user}/${id}`, { as: ANA, raw: JSON.stringify(page), headers: PYTHON_REQUESTS });
  assert.is(r.status, 201, r.text);
  assert.is(r.headers.location, `/pols/${ANA.user}/${id}`);
  assert.equal(r.json, { ...page, book: ANA.user });
  const { rows } = await s.db.pool.query('SELECT book, data FROM pols WHERE id = $1', [id]);
  assert.equal(rows, [{ book: ANA.user, data: { ...page, book: ANA.user } }]);
  const book = await req('GET', `/pols/${ANA.user}`, { as: ANA, headers: PYTHON_REQUESTS });
  assert.ok(book.listed!.some((p: { id: string }) => p.id === id), 'the page is in her book');
  // A sync interrupted after the server committed: the app resends the page, and must
  // get a success to mark it synced (MyGNUHealth's bol.py checks `if send_data:`).
  const again = await req('POST', `/pols/${ANA.user}/${id}`, { as: ANA, raw: JSON.stringify(page), headers: PYTHON_REQUESTS });
  assert.is(again.status, 200, 'a resent page is answered 200 with what is stored');
  assert.equal(again.json, { ...page, book: ANA.user });
  assert.is(again.headers.location, undefined);
  const changed = await req('POST', `/pols/${ANA.user}/${id}`, { as: ANA, raw: JSON.stringify({ ...page, summary: 'Other' }), headers: PYTHON_REQUESTS });
  assert.is(changed.status, 409, 'a different page under the same id is a conflict');
  assert.equal((await s.db.pool.query('SELECT data FROM pols WHERE id = $1', [id])).rows, [{ data: { ...page, book: ANA.user } }]);
  // Successful creates only: the 409's row (a refused write) is batched, written whenever the log flushes.
  const creates = await s.db.pool.query(`SELECT count(*)::int AS n FROM audit WHERE action = 'create' AND record_id = $1 AND status < 300`, [id]);
  assert.is(creates.rows[0].n, 1, 'one create row in the audit');
});

for (const [name, node] of [['ROOT', ROOT], ['CAMERON', CAMERON]] as Array<[string, Account]>) {
  t(`an HMIS node (${name}) posts a person without password and roles, then PATCHes modification_info`, async () => {
    const id = `HMIS${name}01`;
    const person = {
      id, name: 'Hana', lastname: 'Moreno', dob: '1990-03-14', gender: 'f', biological_sex: 'f', active: true,
      education: 'secondary', marital_status: 'single', profession: 'nurse',
      creation_info: { user: node.user, timestamp: '2026-11-28 10:00:00', node: 'Milano General Hospital' },
    };
    const r = await req('POST', `/people/${id}`, { as: node, raw: JSON.stringify(person), headers: PYTHON_REQUESTS });
    assert.is(r.status, 201, r.text);
    assert.is(r.headers.location, `/people/${id}`);
    assert.equal(r.json, { ...person, roles: ['end_user'] });
    assert.equal(await storedData(s.db.pool, 'people', id), { ...person, roles: ['end_user'] });
    for (const password of ['', 'gnusolidario', 'anything at all']) {
      const login = await req('GET', '/login', { as: { user: id, password } });
      assert.is(login.status, 401, 'no password: no login');
      assert.equal(login.json, { error: 'Valid credentials are required', code: 'UNAUTHENTICATED' });
    }
    const change = {
      id, marital_status: 'married',
      modification_info: { user: node.user, timestamp: '2026-11-29 09:30:00', node: 'Milano General Hospital' },
    };
    const p = await req('PATCH', `/people/${id}`, { as: node, raw: JSON.stringify(change), headers: PYTHON_REQUESTS });
    assert.is(p.status, 200, p.text);
    assert.equal(p.json, { ...person, ...change, roles: ['end_user'] });
    assert.equal(await storedData(s.db.pool, 'people', id), p.json);
    const read = await req('GET', `/people/${id}`, { as: node });
    assert.equal(read.json.modification_info, change.modification_info);
    assert.equal(read.json.creation_info, person.creation_info);
  });
}

t('a non-ASCII password works sent as Python requests does (latin-1) and as browsers do (UTF-8)', async () => {
  const password = 'contraseña-ñandú';
  assert.is((await req('POST', '/people/CLIENTS01', { as: ROOT, body: { password } })).status, 201);
  const header = (encoding: BufferEncoding) => `Basic ${Buffer.concat([Buffer.from('CLIENTS01:'), Buffer.from(password, encoding)]).toString('base64')}`;
  for (const encoding of ['latin1', 'utf8'] as const) {
    const r = await req('GET', '/login', { headers: { ...PYTHON_REQUESTS, authorization: header(encoding) } });
    assert.is(r.status, 200, encoding);
  }
  assert.is((await req('GET', '/login', { headers: { authorization: `Basic ${Buffer.from('CLIENTS01:contrasena-nandu').toString('base64')}` } })).status, 401);
});

t('the web portal: an unauthenticated CORS preflight, then GET /login with credentials is `true`', async () => {
  const origin = 'https://portal.federation.example';
  const pre = await req('OPTIONS', '/login', {
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
  });
  assert.is(pre.status, 204);
  assert.is(pre.headers['access-control-allow-origin'], '*');
  assert.is(pre.headers['access-control-allow-headers'], 'authorization');
  assert.match(String(pre.headers['access-control-allow-methods']), /\bGET\b/);
  assert.is(pre.headers['www-authenticate'], undefined, 'a preflight is never challenged');
  const r = await req('GET', '/login', { as: CAMERON, headers: { origin, accept: 'application/json' } });
  assert.is(r.status, 200);
  assert.is(r.text, 'true');
  assert.is(r.json, true);
  assert.is(r.headers['access-control-allow-origin'], '*');
  const bad = await req('GET', '/login', { as: { ...CAMERON, password: 'nope' }, headers: { origin } });
  assert.is(bad.status, 401);
  assert.is(bad.headers['access-control-allow-origin'], '*', 'the portal can read the refusal');
});

t('the FRL locator reads `dob` and `gender` of every demo person', async () => {
  for (const id of [ANA.user, CAMERON.user, ROOT.user]) {
    const r = await req('GET', `/people/${id}`, { as: CAMERON, headers: PYTHON_REQUESTS });
    assert.is(r.status, 200, id);
    // What the locator does with the answer, as Python would: data['dob'], data['gender'].
    for (const field of ['dob', 'gender', 'name', 'lastname']) assert.type(r.json[field], 'string', `${id}.${field}`);
    assert.match(r.json.dob, /^\d{4}-\d{2}-\d{2}$/);
  }
});

t('resends after an interrupted sync: HMIS re-POSTs a person, MyGNUHealth a page, concurrently too: one 201, the rest 200', async () => {
  const person = { id: 'RESEND0001', name: 'Rita', lastname: 'Sánchez', dob: '1979-02-11', gender: 'f', creation_info: { user: CAMERON.user, timestamp: '2026-11-30 08:00:00', node: 'Milano General Hospital' } };
  const first = await req('POST', '/people/RESEND0001', { as: CAMERON, raw: JSON.stringify(person), headers: PYTHON_REQUESTS });
  assert.is(first.status, 201);
  const again = await req('POST', '/people/RESEND0001', { as: CAMERON, raw: JSON.stringify(person), headers: PYTHON_REQUESTS });
  assert.is(again.status, 200, 'the HMIS queue sees success and stops resending');
  assert.equal(again.json, first.json);
  const other = await req('POST', '/people/RESEND0001', { as: CAMERON, raw: JSON.stringify({ ...person, dob: '1979-02-12' }), headers: PYTHON_REQUESTS });
  assert.is(other.status, 409);
  assert.is((await storedData(s.db.pool, 'people', 'RESEND0001'))?.dob, '1979-02-11');
  for (const [path, as] of [['/people/RESEND0002', CAMERON], [`/pols/${ANA.user}/resend-page-1`, ANA], ['/institutions/resend-inst', ROOT]] as const) {
    const body = JSON.stringify({ summary: 'Same every time', n: 1 });
    const results = await Promise.all(Array.from({ length: 12 }, () => req('POST', path, { as, raw: body, headers: PYTHON_REQUESTS })));
    assert.equal(results.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201], path);
    const id = path.split('/').pop()!;
    const { rows } = await s.db.pool.query(`SELECT count(*)::int AS n FROM audit WHERE action = 'create' AND record_id = $1`, [id]);
    assert.is(rows[0].n, 1, `${path}: one create row in the audit`);
  }
});

t('a locator client: GET /people/X?X ignores the query', async () => {
  const r = await req('GET', `/people/${ANA.user}?${ANA.user}`, { as: CAMERON, headers: PYTHON_REQUESTS });
  assert.is(r.status, 200);
  assert.is(r.json.id, ANA.user);
  assert.is(r.json.lastname, 'Betz');
  const missing = await req('GET', '/people/NOSUCH000ACC?NOSUCH000ACC', { as: CAMERON });
  assert.is(missing.status, 404);
  assert.equal(missing.json, { error: 'Person not found', code: 'NOT_FOUND' });
});

t.run();
