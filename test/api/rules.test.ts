// The rules behind the routes: a page only through its own book, who may change roles
// and `active`, how passwords are stored and upgraded, and merges that never lose a
// concurrent change.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import bcrypt from 'bcrypt';
import argon2 from 'argon2';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type Account, type CallOptions } from '../helpers/http.js';
import { dumpRows, storedData } from '../helpers/rows.js';
import { startHttpServer } from '../../server/http-server.js';
import { createLogger } from '../../lib/log.js';

const ANA_ID = ANA.user;
const CAMERON_ID = CAMERON.user;
const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const PICTURE = '5f626a20-5d86-488c-a1e2-844ccf399c72';

const t = suite('rules');
let s: TestServer;
const req = (method: string, path: string, opts: CallOptions = {}) => call(s.base, method, path, opts);
const login = async (as: Account) => (await req('GET', '/login', { as })).status;
const storedHash = async (id: string) => (await storedData(s.db.pool, 'people', id))?.password as string | null | undefined;

/** A request that must be refused and leave every row as it was. */
async function refused(method: string, path: string, opts: CallOptions, status: number, body?: unknown): Promise<void> {
  const before = await dumpRows(s.db.pool);
  const r = await req(method, path, opts);
  assert.is(r.status, status, `${method} ${path}: ${r.text}`);
  if (body !== undefined) assert.equal(r.json, body);
  assert.is(await dumpRows(s.db.pool), before, `${method} ${path} changed a row`);
}

const forbiddenField = (field: string) => ({ error: `Changing "${field}" here needs the account administration right (ACL name "roles")`, code: 'FORBIDDEN_FIELD' });
const pageNotFound = { error: 'Page not found', code: 'NOT_FOUND' };

t.before(async () => { s = await startServer({}, { upstreamHashes: true }); }); // the bcrypt upgrade is tested
t.after(async () => { await s.close(); });

t('a demo bcrypt password is upgraded to argon2id by a successful login, not by a failed one', async () => {
  assert.match(String(await storedHash(ANA_ID)), /^\$2b\$12\$/);
  assert.is(await login({ user: ANA_ID, password: 'wrong-password' }), 401);
  assert.match(String(await storedHash(ANA_ID)), /^\$2b\$12\$/, 'a failed login leaves the hash');
  assert.is(await login(ANA), 200);
  const upgraded = String(await storedHash(ANA_ID));
  assert.match(upgraded, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  assert.ok(await argon2.verify(upgraded, ANA.password), 'the new hash is of the same password');
  assert.is(await login(ANA), 200);
  assert.is(await storedHash(ANA_ID), upgraded, 'upgraded once');
  // A second worker, with a cold credential cache, verifies the upgraded hash itself.
  const other = await startHttpServer(s.config, s.db.url, createLogger('silent'));
  try {
    assert.is((await call(`http://127.0.0.1:${other.address.port}`, 'GET', '/login', { as: ANA })).status, 200);
    assert.is((await call(`http://127.0.0.1:${other.address.port}`, 'GET', '/login', { as: { ...ANA, password: 'x' } })).status, 401);
  } finally {
    await other.close(1000);
  }
  for (const as of [CAMERON, ROOT]) assert.is(await login(as), 200);
});

t('a page read, patched or written through another person\'s book is 404 and unchanged', async () => {
  assert.is((await req('POST', `/pols/${CAMERON_ID}/rules-cameron-page`, { as: ROOT, body: { summary: 'Cameron\'s' } })).status, 201);
  // An end user, through their own id.
  assert.equal((await req('GET', `/pols/${ANA_ID}/rules-cameron-page`, { as: ANA })).json, pageNotFound);
  await refused('PATCH', `/pols/${ANA_ID}/rules-cameron-page`, { as: ANA, body: { summary: 'mine now' } }, 404, pageNotFound);
  await refused('PATCH', `/pols/${ANA_ID}/rules-cameron-page`, { as: ANA, body: { book: ANA_ID } }, 404, pageNotFound);
  await refused('POST', `/pols/${ANA_ID}/rules-cameron-page`, { as: ANA, body: { summary: 'mine now' } }, 409);
  assert.is((await req('GET', `/personal_docs/${ANA_ID}/rules-cameron-page`, { as: ANA })).status, 404);
  // A global role, through the wrong book.
  assert.equal((await req('GET', `/pols/${CAMERON_ID}/${BIRTH}`, { as: CAMERON })).json, pageNotFound);
  await refused('PATCH', `/pols/${CAMERON_ID}/${BIRTH}`, { as: CAMERON, body: { summary: 'moved' } }, 404, pageNotFound);
  await refused('DELETE', `/pols/${CAMERON_ID}/rules-cameron-page-x`, { as: ROOT }, 404, pageNotFound);
  await refused('DELETE', `/pols/${ANA_ID}/rules-cameron-page`, { as: ROOT }, 404, pageNotFound);
  assert.is((await req('GET', `/personal_docs/${CAMERON_ID}/${BIRTH}/${PICTURE}`, { as: CAMERON })).status, 404);
  // Through its own book the page is there, unchanged.
  const own = await req('GET', `/pols/${CAMERON_ID}/rules-cameron-page`, { as: CAMERON });
  assert.equal(own.json, { id: 'rules-cameron-page', book: CAMERON_ID, summary: 'Cameron\'s' });
  const { rows } = await s.db.pool.query('SELECT book FROM pols WHERE id = $1', ['rules-cameron-page']);
  assert.equal(rows, [{ book: CAMERON_ID }]);
});

t('an end user cannot give themselves a role nor reactivate; unchanged values may be resent', async () => {
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, body: { roles: ['end_user', 'root'] } }, 403, forbiddenField('roles'));
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, body: { roles: ['root'] } }, 403, forbiddenField('roles'));
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, body: { roles: [] } }, 403, forbiddenField('roles'));
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, body: { name: 'Ana', roles: ['health_professional', 'end_user'] } }, 403, forbiddenField('roles'));
  await refused('PATCH', `/people/${ANA_ID}`, { as: ANA, body: { roles: 'root' } }, 400);
  const same = await req('PATCH', `/people/${ANA_ID}`, { as: ANA, body: { name: 'Ana', roles: ['end_user'], active: true, phone: '+39 3' } });
  assert.is(same.status, 200);
  assert.equal([same.json.roles, same.json.active, same.json.phone], [['end_user'], true, '+39 3']);
  assert.is((await req('GET', '/people', { as: ANA })).status, 403, 'still an end user');
});

t('an end user may deactivate themselves, never reactivate; only an administrator reactivates', async () => {
  const user = { user: 'RULES001', password: 'rules-password-1' };
  assert.is((await req('POST', '/people/RULES001', { as: ROOT, body: { name: 'Rule', password: user.password, active: true } })).status, 201);
  assert.is(await login(user), 200);
  const off = await req('PATCH', '/people/RULES001', { as: user, body: { active: false } });
  assert.equal([off.status, off.json.active], [200, false]);
  assert.is(await login(user), 401, 'inactive: no login, even with a cached verification');
  await refused('PATCH', '/people/RULES001', { as: user, body: { active: true } }, 401);
  await refused('PATCH', '/people/RULES001', { as: ANA, body: { active: true } }, 403);
  await refused('PATCH', '/people/RULES001', { as: CAMERON, body: { active: true } }, 403, forbiddenField('active'));
  assert.is((await req('PATCH', '/people/RULES001', { as: ROOT, body: { active: true } })).status, 200);
  assert.is(await login(user), 200);
  // The writes' rows are written by their statements; the refused ones' are batched, so
  // they may land before or after the administrator's (flushed here to see them all).
  await s.worker.services.audit.flush();
  const { rows } = await s.db.pool.query(`SELECT actor, status, detail FROM audit WHERE record_id = 'RULES001' AND action = 'update' ORDER BY id`);
  assert.equal(rows.filter((r) => r.status < 400), [{ actor: 'RULES001', status: 200, detail: { changed: ['active'] } }, { actor: ROOT.user, status: 200, detail: { changed: ['active'] } }]);
  assert.equal(rows.filter((r) => r.status >= 400).sort((a, b) => a.actor.localeCompare(b.actor)),
    [{ actor: ANA.user, status: 403, detail: null }, { actor: CAMERON.user, status: 403, detail: null }]); // ESPGNU777ORG, ITAPYT999HON
});

t('an administrator changes another person\'s roles, and the change applies at once; a global professional cannot', async () => {
  const user = { user: 'RULES002', password: 'rules-password-2' };
  assert.is((await req('POST', '/people/RULES002', { as: ROOT, body: { password: user.password } })).status, 201);
  assert.is((await req('GET', '/people', { as: user })).status, 403);
  await refused('PATCH', '/people/rules002', { as: CAMERON, body: { roles: ['end_user', 'health_professional'] } }, 403, forbiddenField('roles'));
  const r = await req('PATCH', '/people/rules002', { as: ROOT, body: { roles: ['end_user', 'health_professional'] } });
  assert.is(r.status, 200);
  assert.equal((await storedData(s.db.pool, 'people', 'RULES002'))?.roles, ['end_user', 'health_professional']);
  assert.is((await req('GET', '/people', { as: user })).status, 200);
  assert.is((await req('PATCH', '/people/RULES002', { as: ROOT, body: { roles: ['end_user'] } })).status, 200);
  assert.is((await req('GET', '/people', { as: user })).status, 403);
  const created = await req('POST', '/people/RULES003', { as: ROOT, body: { roles: ['root'], active: false } });
  assert.equal([created.status, created.json.roles, created.json.active], [201, ['root'], false]);
});

t('a plain password in POST or PATCH is stored as argon2id and works; the old one stops working', async () => {
  const r = await req('POST', '/people/RULES010', { as: ROOT, body: { name: 'Plain', password: 'first-password' } });
  assert.is(r.status, 201);
  assert.not.ok('password' in r.json);
  const first = String(await storedHash('RULES010'));
  assert.match(first, /^\$argon2id\$/);
  assert.ok(await argon2.verify(first, 'first-password'));
  assert.is(await login({ user: 'RULES010', password: 'first-password' }), 200);
  const p = await req('PATCH', '/people/RULES010', { as: { user: 'RULES010', password: 'first-password' }, body: { password: 'second-password' } });
  assert.is(p.status, 200);
  assert.not.ok('password' in p.json);
  const second = String(await storedHash('RULES010'));
  assert.match(second, /^\$argon2id\$/);
  assert.is.not(second, first);
  assert.is(await login({ user: 'RULES010', password: 'second-password' }), 200);
  assert.is(await login({ user: 'RULES010', password: 'first-password' }), 401);
});

t('a pre-made bcrypt or argon2 hash from an administrator is stored as is and works', async () => {
  const b = await bcrypt.hash('bcrypt-password', 10);
  assert.match(b, /^\$2b\$10\$/);
  const hashes: Array<[string, string, string]> = [
    ['RULES020', b, 'bcrypt-password'],
    ['RULES021', b.replace(/^\$2b\$/, '$2a$'), 'bcrypt-password'],
    ['RULES022', b.replace(/^\$2b\$/, '$2y$'), 'bcrypt-password'],
    ['RULES023', await argon2.hash('argon-password', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 }), 'argon-password'],
  ];
  // Python's argon2-cffi (and libargon2) write the parameters as m,t,p.
  hashes.push(['RULES024', hashes[3]![1].replace(/m=(\d+),p=(\d+),t=(\d+)/, 'm=$1,t=$3,p=$2'), 'argon-password']);
  assert.match(hashes[4]![1], /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/);
  for (const [id, hash, plain] of hashes) {
    await refused('POST', `/people/${id}`, { as: CAMERON, body: { password: hash } }, 403,
      { error: 'Only an account administrator may store a pre-made password hash; send the password itself', code: 'PREMADE_HASH_FORBIDDEN' });
    const r = await req('POST', `/people/${id}`, { as: ROOT, body: { password: hash } });
    assert.is(r.status, 201, id);
    assert.is(await storedHash(id), hash, `${id} stored as sent`);
    assert.is(await login({ user: id, password: plain }), 200, id);
    assert.is(await login({ user: id, password: `${plain}x` }), 401, id);
  }
  assert.match(String(await storedHash('RULES020')), /^\$argon2id\$/, 'bcrypt upgraded at login');
  // Weaker argon2 parameters than the configured ones are upgraded at login, like bcrypt.
  assert.match(String(await storedHash('RULES023')), /^\$argon2id\$v=19\$m=19456,/, 'weak argon2 upgraded at login');
  await refused('PATCH', '/people/RULES023', { as: { user: 'RULES023', password: 'argon-password' }, body: { password: b } }, 403);
  const patched = await req('PATCH', '/people/RULES023', { as: ROOT, body: { password: b } });
  assert.is(patched.status, 200);
  assert.is(await storedHash('RULES023'), b);
  assert.is(await login({ user: 'RULES023', password: 'bcrypt-password' }), 200);
});

t('a bad password value is 400 and changes nothing; null removes the login', async () => {
  await req('POST', '/people/RULES030', { as: ROOT, body: { password: 'good-password' } });
  const hash = await storedHash('RULES030');
  for (const password of ['short', 42, ['good-password'], { a: 1 }]) {
    await refused('PATCH', '/people/RULES030', { as: ROOT, body: { password } }, 400);
    await refused('POST', '/people/RULES031', { as: ROOT, body: { password } }, 400);
  }
  assert.is(await storedHash('RULES030'), hash);
  assert.is(await login({ user: 'RULES030', password: 'good-password' }), 200);
  assert.is((await req('PATCH', '/people/RULES030', { as: ROOT, body: { password: null } })).status, 200);
  assert.is(await login({ user: 'RULES030', password: 'good-password' }), 401);
});

t('50 concurrent PATCHes with distinct keys to one person all survive', async () => {
  await req('POST', '/people/RULES040', { as: ROOT, body: { name: 'Busy' } });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    req('PATCH', '/people/RULES040', { as: i % 2 ? ROOT : CAMERON, body: { [`key${i}`]: i, nested: { [`n${i}`]: i } } })));
  assert.equal(results.map((r) => r.status), Array(50).fill(200));
  const data = (await storedData(s.db.pool, 'people', 'RULES040'))!;
  for (let i = 0; i < 50; i++) assert.is(data[`key${i}`], i, `key${i} survived`);
  assert.is(data.name, 'Busy');
  assert.is(Object.keys(data.nested as object).length, 1, 'a top-level key is replaced whole (data || body)');
  const pages = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    req('POST', `/pols/${ANA_ID}/rules-page-${i}`, { as: ANA, body: { n: i } })));
  assert.equal(pages.map((r) => r.status), Array(20).fill(201));
  await req('POST', `/pols/${ANA_ID}/rules-page-merge`, { as: ANA, body: {} });
  await Promise.all(Array.from({ length: 20 }, (_, i) =>
    req('PATCH', `/pols/${ANA_ID}/rules-page-merge`, { as: ANA, body: { [`k${i}`]: i } })));
  const page = (await storedData(s.db.pool, 'pols', 'rules-page-merge'))!;
  for (let i = 0; i < 20; i++) assert.is(page[`k${i}`], i);
});

t('concurrent POSTs of one id create it once: one 201, the different ones 409', async () => {
  const cases = [
    ['/people/RULES050', CAMERON, 'people', 'RULES050'],
    [`/pols/${ANA_ID}/rules-page-race`, ANA, 'pols', 'rules-page-race'],
    ['/institutions/rules-race', ROOT, 'institutions', 'rules-race'],
  ] as const;
  for (const [path, as, table, id] of cases) {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => req('POST', path, { as, body: { n: i } })));
    assert.equal(results.map((r) => r.status).sort(), [201, ...Array(9).fill(409)], path);
    const winner = results.find((r) => r.status === 201)!;
    assert.is((await storedData(s.db.pool, table, id))?.n, winner.json.n, 'the stored row is the one answered 201');
  }
});

t.run();
