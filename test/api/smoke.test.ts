import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON } from '../helpers/http.js';

const t = suite('smoke');
let s: TestServer;
t.before(async () => { s = await startServer(); });
t.after(async () => { await s.close(); });

t('GET /people/ESPGNU777ORG as Cameron is Ana without password', async () => {
  const r = await call(s.base, 'GET', '/people/ESPGNU777ORG', { as: CAMERON });
  assert.is(r.status, 200);
  assert.is(r.json.name, 'Ana');
  assert.is(r.json.lastname, 'Betz');
  assert.not.ok('password' in r.json);
});

t('GET /login without credentials is 401 with the realm', async () => {
  const r = await call(s.base, 'GET', '/login');
  assert.is(r.status, 401);
  assert.match(String(r.headers['www-authenticate']), /^Basic realm="Thalamus"/);
  assert.equal(r.json, { error: 'Valid credentials are required', code: 'UNAUTHENTICATED' });
});

t('GET /login as Ana is true', async () => {
  const r = await call(s.base, 'GET', '/login', { as: ANA });
  assert.is(r.status, 200);
  assert.is(r.json, true);
});

t.run();
