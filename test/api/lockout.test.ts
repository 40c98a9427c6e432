// Brute-force lockout: by (account, client address) pair, by account from all addresses
// (a distributed attack) and by address, counted in PostgreSQL, reserved before any
// password is verified so no burst gets past the limits, temporary, and the same for
// accounts that do not exist. Client addresses other than loopback are given with
// X-Forwarded-For, which the server honours from its trusted proxy (loopback).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type Account } from '../helpers/http.js';
import { startHttpServer } from '../../server/http-server.js';
import { createLogger } from '../../lib/log.js';
import { lockoutAddress } from '../../lib/auth/lockout.js';
import { loadConfig, ROOT as PROJECT } from '../../lib/config.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const wrong = (user: string, n = 0): Account => ({ user, password: `wrong-password-${n}` });
const from = (address: string) => ({ 'x-forwarded-for': address });

async function login(s: TestServer, as: Account, headers: Record<string, string> = {}) {
  return call(s.base, 'GET', '/login', { as, headers });
}

async function failTimes(s: TestServer, as: Account, n: number, headers: Record<string, string> = {}): Promise<void> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => login(s, wrong(as.user, i), headers)));
  assert.equal(results.map((r) => r.status), Array(n).fill(401));
}

function assertLocked(r: { status: number; headers: Record<string, unknown>; json: unknown }, max: number): number {
  assert.is(r.status, 429);
  assert.equal(r.json, { error: 'Too many failed logins; try again later', code: 'TOO_MANY_FAILED_LOGINS' });
  const retry = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= max, `Retry-After ${String(r.headers['retry-after'])}`);
  return retry;
}

const pair = suite('lockout per account and address');
let s: TestServer;
pair.before(async () => { s = await startServer(); });
pair.after(async () => { await s.close(); });

pair('10 failures lock the pair for up to 15 minutes, even for the right password the worker has cached', async () => {
  // A success first: its verification is cached, and its reservation is released (not a failure).
  assert.is((await login(s, ANA, from('198.51.100.10'))).status, 200);
  const start = Date.now();
  await failTimes(s, ANA, 10, from('198.51.100.10'));
  const retry = assertLocked(await login(s, wrong(ANA.user), from('198.51.100.10')), 900);
  assertLocked(await login(s, ANA, from('198.51.100.10')), 900);
  console.log(`  lockout: 10 failures in ${Date.now() - start} ms, then 429 with Retry-After ${retry}`);
  await s.worker.services.audit.flush();
  const locked = await s.db.pool.query(`SELECT actor, status, client FROM audit WHERE action = 'login_locked'`);
  assert.equal(locked.rows, [{ actor: ANA.user, status: 429, client: '198.51.100.10' }, { actor: ANA.user, status: 429, client: '198.51.100.10' }]);
  const { rows } = await s.db.pool.query(`SELECT scope, count(*)::int AS n FROM login_failures GROUP BY scope ORDER BY scope`);
  // Locked attempts are not counted: the lock ends 15 minutes after the 10th failure.
  assert.equal(rows, [{ scope: 'account', n: 10 }, { scope: 'address', n: 10 }, { scope: 'pair', n: 10 }]);
  const locks = await s.db.pool.query(`SELECT scope, key FROM login_locks ORDER BY scope`);
  assert.equal(locks.rows, [{ scope: 'pair', key: `${ANA.user} 198.51.100.10` }]);
});

pair('the right password from an address without failures keeps working during a pair lock (a node sharing the account)', async () => {
  assertLocked(await login(s, ANA, from('198.51.100.10')), 900);
  for (let i = 0; i < 3; i++) assert.is((await login(s, ANA, from('198.51.100.20'))).status, 200, 'the HMIS node');
  assert.is((await login(s, ANA, from('198.51.100.21'))).status, 200, 'the FRL locator');
  assert.is((await login(s, ANA)).status, 200, 'loopback itself');
});

pair('other accounts from the locked address are unaffected; a success does not unlock', async () => {
  assert.is((await login(s, CAMERON, from('198.51.100.10'))).status, 200);
  assertLocked(await login(s, ANA, from('198.51.100.10')), 900);
});

pair('an account that does not exist locks the same way', async () => {
  await failTimes(s, { user: 'NOSUCHACCOUNT1', password: '' }, 10, from('198.51.100.11'));
  assertLocked(await login(s, wrong('NOSUCHACCOUNT1'), from('198.51.100.11')), 900);
});

pair('every worker and instance on the database sees the same count', async () => {
  // A second worker on the same database: it has never seen these failures itself.
  const w = await startHttpServer(s.config, s.db.url, createLogger('silent'));
  try {
    assertLocked(await call(`http://127.0.0.1:${w.address.port}`, 'GET', '/login', { as: ANA, headers: from('198.51.100.10') }), 900);
    assert.is((await call(`http://127.0.0.1:${w.address.port}`, 'GET', '/login', { as: ANA, headers: from('198.51.100.20') })).status, 200);
  } finally {
    await w.close(1000);
  }
});

pair('the pair key is spelled once, by login_pair_key() (sql/031): the rows and locks use it, nothing else spells it', async () => {
  const locks = await s.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM login_locks WHERE scope = 'pair' AND key = login_pair_key($1, '198.51.100.10')`, [ANA.user]);
  assert.is(locks.rows[0]!.n, 1);
  const failures = await s.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM login_failures WHERE scope = 'pair' AND key = login_pair_key($1, '198.51.100.10')`, [ANA.user]);
  assert.is(failures.rows[0]!.n, 10);
  // The live definitions of the functions that write pair rows call it.
  const defs = await s.db.pool.query<{ name: string; calls: boolean }>(
    `SELECT proname AS name, prosrc LIKE '%login_pair_key(p_account, p_address)%' AS calls FROM pg_proc WHERE proname IN ('login_reserve', 'login_fail') ORDER BY 1`);
  assert.equal(defs.rows, [{ name: 'login_fail', calls: true }, { name: 'login_reserve', calls: true }]);
  // No module of lib/ concatenates an account and an address itself.
  const spelled: string[] = [];
  for (const dir of ['auth', 'admin']) {
    for (const f of readdirSync(join(PROJECT, 'lib', dir)).filter((n) => n.endsWith('.ts'))) {
      if (/\|\|\s*' '/.test(readFileSync(join(PROJECT, 'lib', dir, f), 'utf8'))) spelled.push(`lib/${dir}/${f}`);
    }
  }
  assert.equal(spelled, []);
});

pair('IPv6 clients are counted by their /56 (LOCKOUT_IPV6_PREFIX), or /64', async () => {
  assert.is(lockoutAddress('2001:db8:1:2:aaaa::1', 64), '2001:db8:1:2::/64');
  assert.is(lockoutAddress('2001:db8::1', 64), '2001:db8:0:0::/64');
  assert.is(lockoutAddress('2001:db8:aa:bb07::1', 56), '2001:db8:aa:bb00::/56');
  assert.is(lockoutAddress('2001:db8:aa:bbff:1:2:3:4', 56), '2001:db8:aa:bb00::/56');
  assert.is(lockoutAddress('2001:db8:aa:bbff::1', 48), '2001:db8:aa::/48');
  assert.is(lockoutAddress('192.0.2.1', 56), '192.0.2.1');
  assert.is(s.config.lockoutIpv6Prefix, 56, 'the default');
  assert.throws(() => loadConfig(undefined, { THALAMUS_LOCKOUT_IPV6_PREFIX: '72' }), /LOCKOUT_IPV6_PREFIX: must be from 32 to 64/);
  for (let i = 0; i < 10; i++) assert.is((await login(s, wrong(CAMERON.user, i), from(`2001:db8:1:2::${i + 1}`))).status, 401);
  assertLocked(await login(s, CAMERON, from('2001:db8:1:2:ffff::9')), 900);
  assertLocked(await login(s, CAMERON, from('2001:db8:1:3::1')), 900);
  assert.is((await login(s, CAMERON, from('2001:db8:1:300::1'))).status, 200, 'another /56');
});

pair.run();

const burst = suite('lockout under concurrency');
let b: TestServer;
burst.before(async () => { b = await startServer(); });
burst.after(async () => { await b.close(); });

for (const [what, password] of [['different wrong passwords', (i: number) => `guess-${i}`], ['one wrong password', () => 'the-same-guess']] as const) {
  burst(`500 concurrent logins (${what}, the right one in the middle): at most 10 verifications, the rest 429`, async () => {
    const user = what.startsWith('one') ? CAMERON.user : ROOT.user;
    const right = user === CAMERON.user ? CAMERON.password : ROOT.password;
    const address = what.startsWith('one') ? '203.0.113.51' : '203.0.113.50';
    const before = b.worker.services.auth.stats.verifications;
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) =>
      login(b, { user, password: i === 250 ? right : password(i) }, from(address))));
    const verified = b.worker.services.auth.stats.verifications - before;
    const statuses: Record<number, number> = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    console.log(`  lockout burst (${what}): ${verified} verifications of 500 tries; statuses ${JSON.stringify(statuses)}; the right password got ${results[250]!.status}`);
    assert.ok(verified <= 10, `${verified} verifications`);
    assert.ok([200, 429].includes(results[250]!.status));
    assert.is((statuses[401] ?? 0) + (statuses[200] ?? 0), 10, 'exactly the 10 reserved attempts were answered');
    assert.is(statuses[429], 490);
    const { rows } = await b.db.pool.query(`SELECT count(*)::int AS n FROM login_failures WHERE scope = 'pair' AND key = $1`, [`${user} ${address}`]);
    assert.is(rows[0].n, statuses[401], 'every failure, and only failures, counted');
  });
}

burst.run();

const distributed = suite('lockout of an account from every address');
let d: TestServer;
distributed.before(async () => { d = await startServer({ lockoutPairFailures: 10, lockoutAccountFailures: 30, lockoutAddressFailures: 200 }); });
distributed.after(async () => { await d.close(); });

distributed('30 failures from several addresses lock the account everywhere; fewer do not', async () => {
  for (let a = 0; a < 3; a++) await failTimes(d, ANA, a < 2 ? 10 : 9, from(`198.51.100.${a + 30}`));
  assert.is((await login(d, ANA, from('198.51.100.99'))).status, 200, '29 failures: a fresh address still logs in');
  await failTimes(d, ANA, 1, from('198.51.100.33'));
  assertLocked(await login(d, ANA, from('198.51.100.98')), 900);
  assertLocked(await login(d, ANA), 900);
  assert.is((await login(d, ANA, from('198.51.100.99'))).status, 200, 'an address where it logged in before (LOCKOUT_KNOWN_ADDRESS_DAYS)');
  assert.is((await login(d, CAMERON, from('198.51.100.99'))).status, 200, 'other accounts are unaffected');
});

distributed('with LOCKOUT_KNOWN_ADDRESS_DAYS = 0 no address is known: the account is locked everywhere', async () => {
  const z = await startServer({ lockoutPairFailures: 10, lockoutAccountFailures: 30, lockoutAddressFailures: 200, lockoutKnownAddressDays: 0 });
  try {
    assert.is((await login(z, ANA, from('198.51.100.99'))).status, 200);
    for (let a = 0; a < 3; a++) await failTimes(z, ANA, 10, from(`198.51.100.${a + 30}`));
    assertLocked(await login(z, ANA, from('198.51.100.99')), 900);
    assert.is((await z.db.pool.query('SELECT count(*)::int AS n FROM login_known')).rows[0].n, 0);
  } finally {
    await z.close();
  }
});

distributed.run();

// Finding 13 of issue 20: any process that reaches Thalamus through a trusted proxy
// (loopback is trusted by default: any local process) names the client address it likes
// in X-Forwarded-For, and an IPv6 subscriber holds a whole /56 (256 /64s). Forged
// addresses must not lock the account for a node that logs in from its own address, and
// the /64s of one /56 count as one address.
const forged = suite('lockout through forged X-Forwarded-For from a trusted proxy');
let f: TestServer;
forged.before(async () => { f = await startServer(); });
forged.after(async () => { await f.close(); });

/** Ten wrong passwords for `user` from each of `addresses` (through the trusted proxy): the statuses seen, counted. */
async function attack(user: string, addresses: string[]): Promise<Record<number, number>> {
  const seen: Record<number, number> = {};
  for (const address of addresses) {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(f, wrong(user, i), from(address))));
    for (const r of results) seen[r.status] = (seen[r.status] ?? 0) + 1;
  }
  return seen;
}

forged('eleven /64s of one /56 are one address: they lock their own pair, not the account', async () => {
  const node = '2001:db8:77::10';
  assert.is((await login(f, ANA, from(node))).status, 200, 'the node, before');
  const sixtyFours = Array.from({ length: 11 }, (_, i) => `2001:db8:aa:bb${i.toString(16).padStart(2, '0')}::1`);
  const seen = await attack(ANA.user, sixtyFours);
  const nodeAfter = (await login(f, ANA, from(node))).status;
  const freshAfter = (await login(f, ANA, from('2001:db8:99::1'))).status;
  const { rows } = await f.db.pool.query(`SELECT count(*)::int AS n FROM login_failures WHERE scope = 'account' AND key = $1`, [ANA.user]);
  console.log(`  lockout, 110 wrong passwords from 11 /64s of one /56: ${JSON.stringify(seen)}; ${rows[0].n} counted against the account; then the node ${nodeAfter}, a fresh address ${freshAfter}`);
  assert.equal(seen, { 401: 10, 429: 100 });
  assert.is(rows[0].n, 10);
  assert.is(nodeAfter, 200);
  assert.is(freshAfter, 200);
  assertLocked(await login(f, ANA, from('2001:db8:aa:bbff::2')), 900);
});

forged('forged IPv4 addresses lock the account everywhere, except for the node\'s address where it logged in before', async () => {
  const node = '198.51.100.71';
  assert.is((await login(f, CAMERON, from(node))).status, 200, 'the node, before');
  const seen = await attack(CAMERON.user, Array.from({ length: 11 }, (_, i) => `203.0.113.${100 + i}`));
  const nodeAfter = await login(f, CAMERON, from(node));
  const freshAfter = await login(f, CAMERON, from('198.51.100.72'));
  console.log(`  lockout, 110 wrong passwords from 11 forged IPv4 addresses: ${JSON.stringify(seen)}; then the node ${nodeAfter.status}, a fresh address ${freshAfter.status}`);
  assert.equal(seen, { 401: 100, 429: 10 });
  assertLocked(freshAfter, 900);
  assert.is(nodeAfter.status, 200, 'the node keeps working');
  // A node's address, forged, still has its own pair limit: ten more guesses, then 429.
  await failTimes(f, CAMERON, 10, from(node));
  assertLocked(await login(f, CAMERON, from(node)), 900);
});

forged.run();

const expiry = suite('lockout expiry');
let e: TestServer;
// The window must hold 3 failures even on a loaded machine, yet keep the test short.
expiry.before(async () => { e = await startServer({ lockoutPairFailures: 3, lockoutWindow: 8 }); });
expiry.after(async () => { await e.close(); });

expiry('the lockout is temporary: it ends when Retry-After says', async () => {
  assert.is((await login(e, CAMERON)).status, 200);
  await failTimes(e, CAMERON, 3);
  const retry = assertLocked(await login(e, CAMERON), 8);
  await new Promise((r) => setTimeout(r, retry * 1000 + 200));
  assert.is((await login(e, CAMERON)).status, 200);
});

expiry.run();

const address = suite('lockout per address');
let a: TestServer;
let u: TestServer;
address.before(async () => {
  a = await startServer({ lockoutPairFailures: 100, lockoutAccountFailures: 100, lockoutAddressFailures: 5 });
  u = await startServer({ lockoutPairFailures: 100, lockoutAccountFailures: 100, lockoutAddressFailures: 5, trustedProxies: [] });
});
address.after(async () => { await a.close(); await u.close(); });

address('failures from one address, over many accounts, lock that address only', async () => {
  const headers = { 'x-forwarded-for': '198.51.100.9, 203.0.113.7' };
  for (let i = 0; i < 5; i++) assert.is((await login(a, wrong(`ACCOUNT${i}`), headers)).status, 401);
  assertLocked(await login(a, ANA, headers), 900);
  // The trusted proxy (loopback) named 203.0.113.7; a client-written earlier entry does not count.
  assertLocked(await login(a, ANA, from('203.0.113.7')), 900);
  assert.is((await login(a, ANA, from('203.0.113.8'))).status, 200);
  assert.is((await login(a, ANA)).status, 200);
});

address('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
  for (let i = 0; i < 5; i++) assert.is((await login(u, wrong(`ACCOUNT${i}`), from(`203.0.113.${i}`))).status, 401);
  assertLocked(await login(u, CAMERON, from('203.0.113.99')), 900);
  const { rows } = await u.db.pool.query(`SELECT DISTINCT key FROM login_failures WHERE scope = 'address'`);
  assert.equal(rows, [{ key: '127.0.0.1' }]);
});

address.run();
