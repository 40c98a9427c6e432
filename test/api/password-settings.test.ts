// Password settings are an object each server holds (issue 21, item 4), not module
// state: two servers in one process, started with different PASSWORD_MIN_LENGTH,
// argon2 parameters and bcrypt cost bounds, each apply their own, at
// the same time, on the API, the password form and the login's rehash.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import bcrypt from 'bcrypt';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ROOT, ANA } from '../helpers/http.js';
import { storedData } from '../helpers/rows.js';

const t = suite('password settings per server');
let a: TestServer;
let b: TestServer;
t.before(async () => {
  // Upstream's bcrypt demo hashes: the last test upgrades one on each server.
  [a, b] = await Promise.all([
    startServer({}, { upstreamHashes: true }),
    startServer({ passwordMinLength: 12, argon2MemoryKib: 47104, argon2TimeCost: 1, bcryptCostMin: 12 }, { upstreamHashes: true }),
  ]);
});
t.after(async () => { await Promise.all([a?.close(), b?.close()]); });

const A_HASH = /^\$argon2id\$v=19\$(m=19456,t=2,p=1|m=19456,p=1,t=2)\$/;
const B_HASH = /^\$argon2id\$v=19\$(m=47104,t=1,p=1|m=47104,p=1,t=1)\$/;
const password = async (s: TestServer, id: string) => String((await storedData(s.db.pool, 'people', id))?.password);

t('a 10-character password: 201 and an argon2id m=19456 hash on A, 400 "at least 12" on B, at the same time; 12 characters an m=47104 hash on B', async () => {
  const body = { name: 'Ten', password: 'ten-chars!' };
  const [ra, rb] = await Promise.all([
    call(a.base, 'POST', '/people/TENCHARS1', { as: ROOT, body }),
    call(b.base, 'POST', '/people/TENCHARS1', { as: ROOT, body }),
  ]);
  assert.is(ra.status, 201);
  assert.match(await password(a, 'TENCHARS1'), A_HASH);
  assert.is(rb.status, 400);
  assert.equal(rb.json, { error: 'The password must have at least 12 characters', code: 'INVALID_PASSWORD' });
  assert.is(await storedData(b.db.pool, 'people', 'TENCHARS1'), undefined);
  const long = await call(b.base, 'POST', '/people/TWELVECHARS1', { as: ROOT, body: { password: 'twelve-chars' } });
  assert.is(long.status, 201);
  assert.match(await password(b, 'TWELVECHARS1'), B_HASH);
});

t('the password form states each server\'s minimum', async () => {
  const [fa, fb] = await Promise.all([a, b].map((s) => call(s.base, 'GET', `/password/${ANA.user}`, { as: ANA })));
  assert.match(fa!.text, /At least 8 characters\./);
  assert.match(fa!.text, /minlength="8"/);
  assert.match(fb!.text, /At least 12 characters\./);
  assert.match(fb!.text, /minlength="12"/);
});

t('a pre-made bcrypt hash of cost 11: within A\'s bounds (10 to 14), outside B\'s (12 to 14)', async () => {
  const hash = await bcrypt.hash('premade-password', 11);
  const [ra, rb] = await Promise.all([a, b].map((s) => call(s.base, 'POST', '/people/PREMADE1', { as: ROOT, body: { password: hash } })));
  assert.is(ra!.status, 201);
  assert.is(await password(a, 'PREMADE1'), hash);
  assert.is(rb!.status, 400);
  assert.equal(rb!.json, { error: 'The password hash is outside the accepted bounds: a bcrypt cost must be from 12 to 14, not 11', code: 'INVALID_PASSWORD' });
});

t('a login upgrades the demo\'s bcrypt hash by its own server\'s argon2 parameters', async () => {
  const cameron = { user: 'ITAPYT999HON', password: 'gnusolidario' };
  assert.equal((await Promise.all([a, b].map((s) => call(s.base, 'GET', '/login', { as: cameron })))).map((r) => r.status), [200, 200]);
  assert.match(await password(a, cameron.user), A_HASH);
  assert.match(await password(b, cameron.user), B_HASH);
});

t.run();
