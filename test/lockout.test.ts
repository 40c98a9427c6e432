// Brute-force lockout: per account and per client address, counted in PostgreSQL,
// temporary, the same for accounts that do not exist.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from './helpers/server.js';
import { call, ANA, CAMERON, type Account } from './helpers/http.js';
import { startWorker } from '../server/worker.js';
import { createLogger } from '../lib/log.js';

const wrong = (user: string): Account => ({ user, password: 'wrong-password' });

async function login(s: TestServer, as: Account, headers: Record<string, string> = {}) {
  return call(s.base, 'GET', '/login', { as, headers });
}

async function failTimes(s: TestServer, as: Account, n: number, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < n; i++) assert.is((await login(s, as, headers)).status, 401, `failure ${i + 1}`);
}

function assertLocked(r: { status: number; headers: Record<string, unknown>; json: unknown }, max: number): number {
  assert.is(r.status, 429);
  assert.equal(r.json, { error: 'Too many failed logins; try again later', code: 'TOO_MANY_FAILED_LOGINS' });
  const retry = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= max, `Retry-After ${String(r.headers['retry-after'])}`);
  return retry;
}

const account = suite('lockout per account');
let s: TestServer;
account.before(async () => { s = await startServer(); });
account.after(async () => { await s.close(); });

account('10 failures lock the account for up to 15 minutes, even for the right password', async () => {
  const start = Date.now();
  await failTimes(s, wrong(ANA.user), 10);
  const retry = assertLocked(await login(s, wrong(ANA.user)), 900);
  assertLocked(await login(s, ANA), 900);
  console.log(`  lockout: 10 failures in ${Date.now() - start} ms, then 429 with Retry-After ${retry}`);
  await s.worker.services.audit.flush();
  const locked = await s.db.pool.query(`SELECT actor, status FROM audit WHERE action = 'login_locked'`);
  assert.equal(locked.rows, [{ actor: ANA.user, status: 429 }, { actor: ANA.user, status: 429 }]);
  const { rows } = await s.db.pool.query(`SELECT scope, count(*)::int AS n FROM login_failures GROUP BY scope ORDER BY scope`);
  // Locked attempts are not counted: the lock ends 15 minutes after the 10th failure.
  assert.equal(rows, [{ scope: 'account', n: 10 }, { scope: 'address', n: 10 }]);
});

account('other accounts are unaffected; a success does not unlock', async () => {
  assert.is((await login(s, CAMERON)).status, 200);
  assertLocked(await login(s, ANA), 900);
});

account('an account that does not exist locks the same way', async () => {
  await failTimes(s, wrong('NOSUCHACCOUNT1'), 10);
  assertLocked(await login(s, wrong('NOSUCHACCOUNT1')), 900);
});

account('every worker and instance on the database sees the same count', async () => {
  // A second worker on the same database: it has never seen these failures itself.
  const w = await startWorker(s.config, s.db.url, createLogger('silent'));
  try {
    assertLocked(await call(`http://127.0.0.1:${w.address.port}`, 'GET', '/login', { as: ANA }), 900);
  } finally {
    await w.close(1000);
  }
});

account.run();

const expiry = suite('lockout expiry');
let e: TestServer;
// The window must hold 3 failures even on a loaded machine, yet keep the test short.
expiry.before(async () => { e = await startServer({ lockoutAccountFailures: 3, lockoutWindow: 8 }); });
expiry.after(async () => { await e.close(); });

expiry('the lockout is temporary: it ends when Retry-After says', async () => {
  assert.is((await login(e, CAMERON)).status, 200); // bcrypt -> argon2id: cheaper failures below
  await failTimes(e, wrong(CAMERON.user), 3);
  const retry = assertLocked(await login(e, CAMERON), 8);
  await new Promise((r) => setTimeout(r, retry * 1000 + 200));
  assert.is((await login(e, CAMERON)).status, 200);
});

expiry.run();

const address = suite('lockout per address');
let a: TestServer;
let u: TestServer;
address.before(async () => {
  a = await startServer({ lockoutAccountFailures: 100, lockoutAddressFailures: 5 });
  u = await startServer({ lockoutAccountFailures: 100, lockoutAddressFailures: 5, trustedProxies: [] });
});
address.after(async () => { await a.close(); await u.close(); });

address('failures from one address, over many accounts, lock that address only', async () => {
  const from = { 'x-forwarded-for': '198.51.100.9, 203.0.113.7' };
  for (let i = 0; i < 5; i++) assert.is((await login(a, wrong(`ACCOUNT${i}`), from)).status, 401);
  assertLocked(await login(a, ANA, from), 900);
  // The trusted proxy (loopback) named 203.0.113.7; a client-written earlier entry does not count.
  assertLocked(await login(a, ANA, { 'x-forwarded-for': '203.0.113.7' }), 900);
  assert.is((await login(a, ANA, { 'x-forwarded-for': '203.0.113.8' })).status, 200);
  assert.is((await login(a, ANA)).status, 200);
});

address('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
  for (let i = 0; i < 5; i++) assert.is((await login(u, wrong(`ACCOUNT${i}`), { 'x-forwarded-for': `203.0.113.${i}` })).status, 401);
  assertLocked(await login(u, CAMERON, { 'x-forwarded-for': '203.0.113.99' }), 900);
  const { rows } = await u.db.pool.query(`SELECT DISTINCT key FROM login_failures WHERE scope = 'address'`);
  assert.equal(rows, [{ key: '127.0.0.1' }]);
});

address.run();
