import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, createDatabase, type TestServer, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { call, ANA, CAMERON, ROOT } from '../helpers/http.js';
import { migrate } from '../../lib/db/migrate.js';
import { createCredentialCache } from '../../lib/auth/cache.js';

const hits = suite('credential cache: a hit skips the hash');
let s: TestServer;
// Upstream's bcrypt hashes (200 ms to verify): the concurrent logins below all arrive while the first verifies.
hits.before(async () => { s = await startServer({}, { upstreamHashes: true }); });
hits.after(async () => { await s.close(); });

hits('the first login verifies the hash, the next ones are cache hits', async () => {
  const stats = s.worker.services.auth.stats;
  const before = { ...stats };
  assert.is((await call(s.base, 'GET', '/login', { as: ROOT })).status, 200);
  assert.is(stats.verifications, before.verifications + 1);
  assert.is(stats.cacheHits, before.cacheHits);
  for (let i = 0; i < 5; i++) assert.is((await call(s.base, 'GET', '/login', { as: ROOT })).status, 200);
  assert.is(stats.verifications, before.verifications + 1);
  assert.is(stats.cacheHits, before.cacheHits + 5);
});

hits('concurrent logins with the same credentials share one verification', async () => {
  const stats = s.worker.services.auth.stats;
  const before = { ...stats };
  const all = await Promise.all(Array.from({ length: 20 }, () => call(s.base, 'GET', '/login', { as: CAMERON })));
  assert.equal(all.map((r) => r.status), Array(20).fill(200));
  assert.is(stats.verifications, before.verifications + 1);
  assert.is(stats.cacheHits, before.cacheHits);
});

hits('a failure is never cached: each wrong password is verified again', async () => {
  const stats = s.worker.services.auth.stats;
  const before = { ...stats };
  const wrong = { user: ROOT.user, password: 'not-freedom' };
  for (let i = 0; i < 3; i++) assert.is((await call(s.base, 'GET', '/login', { as: wrong })).status, 401);
  assert.is(stats.verifications, before.verifications + 3);
  assert.is(stats.failures, before.failures + 3);
  assert.is(stats.cacheHits, before.cacheHits);
});

hits('the cache is bounded: least recently used first, entries expire', async () => {
  const credentials = createCredentialCache(2, 50);
  // The full path's questions (lib/auth/authenticate.ts): does the entry of (account, password) hold this stored hash?
  const cache = {
    add: (a: string, p: string, h: string) => credentials.set(credentials.keyOf(a, p), { principal: { id: a, roles: [] }, hash: h, rolesJson: '[]', lockoutAddress: '127.0.0.1' }),
    has: (a: string, p: string, h: string) => credentials.get(credentials.keyOf(a, p))?.hash === h,
    get size() { return credentials.size; },
  };
  cache.add('A', 'p', 'h1');
  cache.add('B', 'p', 'h2');
  assert.ok(cache.has('A', 'p', 'h1')); // A is now the most recent
  cache.add('C', 'p', 'h3');
  assert.is(cache.size, 2);
  assert.not.ok(cache.has('B', 'p', 'h2'));
  assert.ok(cache.has('A', 'p', 'h1'));
  assert.not.ok(cache.has('A', 'p', 'other hash'), 'a changed stored hash never matches');
  await new Promise((r) => setTimeout(r, 60));
  assert.not.ok(cache.has('C', 'p', 'h3'));
});

hits.run();

// Two independent server processes on one database: what one changes, the other
// applies on the very next request, although both have the credentials cached.
const two = suite('credential cache: invalidation across two server processes');
let db: TestDatabase;
let a: ServerProcess;
let b: ServerProcess;
two.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  [a, b] = await Promise.all([spawnServer(db.url), spawnServer(db.url)]);
});
two.after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await db.drop();
});

/** Logs `who` in on both processes twice, so both hold a verified entry (B verifies the
 * argon2id hash A wrote when it upgraded the demo bcrypt hash). */
async function warm(who: typeof ANA): Promise<void> {
  for (const p of [a, b, a, b]) assert.is((await call(p.base, 'GET', '/login', { as: who })).status, 200);
}

two('a password change on A: B refuses the old password on the very next request', async () => {
  await warm(ANA);
  const changed = await call(a.base, 'PATCH', '/people/ESPGNU777ORG', { as: ANA, body: { password: 'a-new-secret' } });
  assert.is(changed.status, 200);
  const old = await call(b.base, 'GET', '/login', { as: ANA });
  assert.is(old.status, 401);
  assert.equal(old.json, { error: 'Valid credentials are required', code: 'UNAUTHENTICATED' });
  const fresh = { user: ANA.user, password: 'a-new-secret' };
  assert.is((await call(b.base, 'GET', '/login', { as: fresh })).status, 200);
  assert.is((await call(a.base, 'GET', '/login', { as: ANA })).status, 401);
});

two('a role change on A: B applies the new roles on the very next request', async () => {
  await warm(CAMERON);
  assert.is((await call(b.base, 'GET', '/people/ESPGNU777ORG', { as: CAMERON })).status, 200);
  const changed = await call(a.base, 'PATCH', '/people/ITAPYT999HON', { as: ROOT, body: { roles: ['end_user'] } });
  assert.is(changed.status, 200);
  assert.equal(changed.json.roles, ['end_user']);
  const next = await call(b.base, 'GET', '/people/ESPGNU777ORG', { as: CAMERON });
  assert.is(next.status, 403);
  assert.equal(next.json, { error: 'Your roles do not allow this request', code: 'FORBIDDEN' });
  assert.is((await call(b.base, 'GET', '/people/ITAPYT999HON', { as: CAMERON })).status, 200, 'still an end user');
});

two('a deactivation on A: B refuses the person on the very next request', async () => {
  await warm(ROOT);
  await warm(CAMERON);
  const off = await call(a.base, 'PATCH', '/people/ITAPYT999HON', { as: ROOT, body: { active: false } });
  assert.is(off.status, 200);
  assert.is(off.json.active, false);
  assert.is((await call(b.base, 'GET', '/login', { as: CAMERON })).status, 401);
  assert.is((await call(a.base, 'GET', '/login', { as: CAMERON })).status, 401);
});

two('a change made directly in SQL applies on the very next request on both', async () => {
  await warm(ROOT);
  await db.pool.query(`UPDATE people SET data = data || '{"active": false}'::jsonb WHERE id = 'ARGBUE111FAV'`);
  assert.is((await call(a.base, 'GET', '/login', { as: ROOT })).status, 401);
  assert.is((await call(b.base, 'GET', '/login', { as: ROOT })).status, 401);
  await db.pool.query(`UPDATE people SET data = data || '{"active": true}'::jsonb WHERE id = 'ARGBUE111FAV'`);
  assert.is((await call(b.base, 'GET', '/login', { as: ROOT })).status, 200);
});

two.run();
