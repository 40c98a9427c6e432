// Push subscriptions on one worker: the ACL matrix of /subscriptions (shipped roles and
// custom global and non-global ones), body refusals, the resource's life (read without
// its secret, pause, resume, delete, audited), and delivery to real receivers: signed
// batches in order, a receiver failing for 5 s that then gets everything, pausing
// after SUBSCRIPTION_PAUSE_AFTER, an owner who loses the right, and retention.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT as PROJECT } from '../../lib/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type Account } from '../helpers/http.js';
import { startReceiver, type Delivery, type Receiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/cluster.js';
import { sign } from '../../lib/subscriptions/signature.js';
import { purgeChanges } from '../../lib/changes/retention.js';

const SECRET = 'a-long-enough-shared-secret';
const ALLOW = ['127.0.0.1', 'node.example.org'];
const NODE: Account = { user: 'NODE0001', password: 'node-password-1' };
const SELF: Account = { user: 'SELFNODE01', password: 'selfnode-password' };

const t = suite('subscriptions');
let s: TestServer;
let dir = '';
const receivers: Receiver[] = [];

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thalamus-subs-'));
  const shipped = JSON.parse(readFileSync(join(PROJECT, 'etc', 'roles.cfg'), 'utf8'));
  const roles = [...shipped,
    { role: 'node', permissions: { GET: ['login', 'changes', 'people', 'subscriptions'], POST: ['subscriptions'], PATCH: ['subscriptions'], DELETE: ['subscriptions'], global: 'True' } },
    { role: 'selfnode', permissions: { GET: ['login', 'changes', 'person', 'book', 'subscriptions'], POST: ['subscriptions'], PATCH: ['subscriptions'], DELETE: ['subscriptions'], global: 'False' } },
  ];
  writeFileSync(join(dir, 'roles.cfg'), JSON.stringify(roles));
  // The receivers are on loopback, and node.example.org stands for a node: the operator's list names them.
  s = await startServer({
    acl: join(dir, 'roles.cfg'), subscriptionAllowHosts: ALLOW, subscriptionBatch: 10, subscriptionRetryMinMs: 100, subscriptionRetryMaxMs: 800, subscriptionPauseAfter: 30,
  });
  for (const [account, role] of [[NODE, 'node'], [SELF, 'selfnode']] as const) {
    const r = await call(s.base, 'POST', `/people/${account.user}`, { as: ROOT, body: { password: account.password, roles: [role], active: true } });
    assert.is(r.status, 201, r.text);
  }
  await s.worker.services.hub.ready;
});
t.after(async () => {
  for (const r of receivers) await r.close();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver(SECRET);
  receivers.push(r);
  return r;
}

const subscribe = (as: Account | undefined, body: Record<string, unknown>) => call(s.base, 'POST', '/subscriptions', { as, body });
const state = async (id: number) => (await call(s.base, 'GET', `/subscriptions/${id}`, { as: ROOT })).json;
const head = async () => (await call(s.base, 'GET', '/changes?since=now', { as: ROOT })).json.last_seq as number;
const writePages = async (prefix: string, n: number) => {
  for (let i = 0; i < n; i++) assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/${prefix}-${i}`, { as: ROOT, body: { n: i } })).status, 201);
};

t('the ACL of /subscriptions: shipped roles, a global node role, a non-global one', async () => {
  const url = 'http://127.0.0.1:9/acl';
  const cases: Array<[string, Account | undefined, string, string, Record<string, unknown> | undefined, number]> = [
    ['anonymous lists', undefined, 'GET', '/subscriptions', undefined, 401],
    ['anonymous registers', undefined, 'POST', '/subscriptions', { url, secret: SECRET }, 401],
    ['an end user registers', ANA, 'POST', '/subscriptions', { url, secret: SECRET }, 403],
    ['an end user lists', ANA, 'GET', '/subscriptions', undefined, 403],
    ['a professional registers (changes, no subscriptions)', CAMERON, 'POST', '/subscriptions', { url, secret: SECRET }, 403],
    ['root registers', ROOT, 'POST', '/subscriptions', { url: `${url}/root`, secret: SECRET }, 201],
    ['a node registers for people', NODE, 'POST', '/subscriptions', { url: `${url}/node`, secret: SECRET, kinds: ['people'] }, 201],
    ['a node asks for pages it may not list', NODE, 'POST', '/subscriptions', { url: `${url}/node2`, secret: SECRET, kinds: ['pols'] }, 403],
    ['a non-global node registers for itself', SELF, 'POST', '/subscriptions', { url: `${url}/self`, secret: SECRET, kinds: ['people', 'pols'] }, 201],
    ['a non-global node asks for another person', SELF, 'POST', '/subscriptions', { url: `${url}/self2`, secret: SECRET, person: ANA.user }, 403],
    ['a non-global node asks for units', SELF, 'POST', '/subscriptions', { url: `${url}/self3`, secret: SECRET, kinds: ['units'] }, 403],
  ];
  const ids = new Map<string, number>();
  for (const [who, as, method, path, body, status] of cases) {
    const r = await call(s.base, method, path, { as, body });
    assert.is(r.status, status, `${who}: ${r.text}`);
    if (status === 403) assert.is(r.json.code, 'FORBIDDEN');
    if (status === 201) { ids.set(as!.user, r.json.id); assert.is(r.headers.location, `/subscriptions/${r.json.id}`); }
  }
  const own = await call(s.base, 'GET', '/subscriptions', { as: SELF });
  assert.equal(own.json.map((x: { owner: string }) => x.owner), [SELF.user], 'a non-global grant lists its own only');
  assert.is((await call(s.base, 'GET', `/subscriptions/${ids.get(ROOT.user)}`, { as: SELF })).status, 404, 'and does not see the others');
  assert.is((await call(s.base, 'DELETE', `/subscriptions/${ids.get(ROOT.user)}`, { as: SELF })).status, 404);
  assert.equal((await call(s.base, 'GET', '/subscriptions', { as: NODE })).json.map((x: { owner: string }) => x.owner), [NODE.user], 'a global grant without `roles` lists its own only');
  assert.is((await call(s.base, 'GET', '/subscriptions', { as: ROOT })).json.length, 3, 'account administration lists all');
  assert.is((await call(s.base, 'GET', `/subscriptions/${ids.get(SELF.user)}`, { as: ANA })).status, 403);
  for (const user of ids.keys()) {
    const as = user === ROOT.user ? ROOT : user === NODE.user ? NODE : SELF;
    assert.is((await call(s.base, 'DELETE', `/subscriptions/${ids.get(user)}`, { as })).status, 204);
  }
});

t('body refusals are 400; a resend is 200; other settings for the same URL are 409', async () => {
  const good = { url: 'https://node.example.org/thalamus', secret: SECRET };
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ secret: SECRET }, /url/],
    [{ ...good, url: 'not a url' }, /url/],
    [{ ...good, url: 'ftp://node.example.org/x' }, /http/],
    [{ ...good, url: 'http://node.example.org/x' }, /https/],
    [{ ...good, url: 'https://user:pw@node.example.org/x' }, /credentials/],
    [{ url: good.url }, /secret/],
    [{ ...good, secret: 'short' }, /secret/],
    [{ ...good, kinds: ['people', 'nope'] }, /kinds/],
    [{ ...good, kinds: [] }, /kinds/],
    [{ ...good, person: 12 }, /person/],
    [{ ...good, since: -1 }, /since/],
    [{ ...good, since: 1e12 }, /since/],
    [{ ...good, include_docs: 'yes' }, /include_docs/],
  ];
  for (const [body, why] of bad) {
    const r = await subscribe(ROOT, body);
    assert.equal([r.status, r.json?.code], [400, 'INVALID_VALUE'], JSON.stringify(body));
    assert.match(r.json.error, why);
  }
  const made = await subscribe(ROOT, { ...good, kinds: ['pols'] });
  assert.is(made.status, 201);
  const again = await subscribe(ROOT, { ...good, kinds: ['pols'] });
  assert.equal([again.status, again.json.id], [200, made.json.id]);
  assert.is((await subscribe(ROOT, { ...good, kinds: ['people'] })).status, 409);
  assert.is((await subscribe(ROOT, { ...good, kinds: ['pols'], secret: `${SECRET}-other` })).status, 409);
  assert.equal([(await call(s.base, 'PATCH', `/subscriptions/${made.json.id}`, { as: ROOT, body: { state: 'failing' } })).status], [400]);
  assert.is((await call(s.base, 'GET', '/subscriptions/abc', { as: ROOT })).status, 400);
  assert.is((await call(s.base, 'GET', '/subscriptions/999999', { as: ROOT })).status, 404);
  assert.is((await call(s.base, 'DELETE', `/subscriptions/${made.json.id}`, { as: ROOT })).status, 204);
});

t('read without its secret; pause, resume and delete, each audited in its own statement', async () => {
  const made = await subscribe(ROOT, { url: 'https://node.example.org/life', secret: SECRET, kinds: ['people'], person: 'espgnu777org', include_docs: true });
  assert.is(made.status, 201);
  const id = made.json.id;
  const read = await call(s.base, 'GET', `/subscriptions/${id}`, { as: ROOT });
  assert.not.match(read.text, SECRET);
  assert.equal([read.json.state, read.json.kinds, read.json.person, read.json.include_docs, read.json.owner], ['active', ['people'], 'ESPGNU777ORG', true, ROOT.user]);
  assert.is(read.json.last_seq, await head());
  assert.is((await call(s.base, 'PATCH', `/subscriptions/${id}`, { as: ROOT, body: { state: 'paused' } })).json.state, 'paused');
  assert.is((await call(s.base, 'PATCH', `/subscriptions/${id}`, { as: ROOT, body: { state: 'active' } })).json.state, 'active');
  assert.is((await call(s.base, 'DELETE', `/subscriptions/${id}`, { as: ROOT })).status, 204);
  assert.is((await call(s.base, 'GET', `/subscriptions/${id}`, { as: ROOT })).status, 404);
  const { rows } = await s.db.pool.query(`SELECT action, status FROM audit WHERE route LIKE '/subscriptions%' AND record_id = $1 ORDER BY id`, [String(id)]);
  assert.equal(rows.map((r) => [r.action, r.status]), [['create', 201], ['update', 200], ['update', 200], ['delete', 204]]);
});

t('delivery: every change the owner may see, in order, in signed batches', async () => {
  const rx = await receiver();
  const start = await head();
  const made = await subscribe(NODE, { url: rx.url, secret: SECRET, include_docs: true });
  assert.is(made.status, 201);
  await writePages('push', 5);
  for (let i = 0; i < 25; i++) assert.is((await call(s.base, 'PATCH', `/people/${ANA.user}`, { as: ROOT, body: { counter: i } })).status, 200);
  const expected = (await call(s.base, 'GET', `/changes?since=${start}&kinds=people`, { as: ROOT })).json.results.map((c: { seq: number }) => c.seq);
  assert.is(expected.length, 25, 'the node sees people only (its role lists no book)');
  await waitFor('25 changes delivered', () => rx.seqs().length === 25, 10_000);
  assert.equal(rx.seqs(), expected);
  assert.ok(rx.deliveries.every((d) => d.signed && d.subscription === made.json.id), 'each batch signed with the secret');
  assert.ok(rx.deliveries.every((d) => d.seqs.length <= 10));
  assert.ok(rx.deliveries.every((d, i) => i === 0 || d.seqs[0]! > rx.deliveries[i - 1]!.lastSeq - 0), 'batches in order');
  const doc = JSON.parse(rx.deliveries[0]!.body).results[0].doc;
  assert.equal([doc.id, 'password' in doc], [ANA.user, false]);
  assert.is(sign('another-secret-of-length', rx.deliveries[0]!.body) === sign(SECRET, rx.deliveries[0]!.body), false);
  await waitFor('the cursor acknowledged', async () => (await state(made.json.id)).last_seq === expected[expected.length - 1], 5000);
  await s.worker.services.audit.flush();
  const { rows } = await s.db.pool.query(`SELECT count(*)::int AS n FROM audit WHERE action = 'push' AND record_id = $1 AND status = 200`, [String(made.json.id)]);
  assert.is(rows[0].n, rx.deliveries.length, 'each push is audited');
  process.stdout.write(`  [subscriptions] 25 changes in ${rx.deliveries.length} signed batches of at most 10\n`);
  assert.is((await call(s.base, 'DELETE', `/subscriptions/${made.json.id}`, { as: NODE })).status, 204);
});

t('a receiver failing for 5 s gets every batch, in order, once it recovers; meanwhile the state says failing', async () => {
  const rx = await receiver();
  const began = Date.now();
  const taken = new Set<Delivery>();
  rx.answer = (d) => {
    if (Date.now() - began < 5000) return 503;
    taken.add(d);
    return 200;
  };
  const start = await head();
  const made = await subscribe(ROOT, { url: rx.url, secret: SECRET, kinds: ['pols'] });
  const id = made.json.id;
  await writePages('fail5', 12);
  await waitFor('a failure recorded', async () => (await state(id)).state === 'failing', 5000);
  const failing = await state(id);
  assert.equal([failing.state, failing.last_error], ['failing', 'HTTP 5xx']);
  assert.ok(failing.attempts >= 1 && failing.failing_since);
  await writePages('fail5-later', 12);
  const expected = (await call(s.base, 'GET', `/changes?since=${start}&kinds=pols`, { as: ROOT })).json.results.map((c: { seq: number }) => c.seq);
  assert.is(expected.length, 24);
  await waitFor('every change after the recovery', () => rx.seqs().length === 24, 15_000);
  const recovered = rx.deliveries.find((d) => taken.has(d))!;
  const accepted = rx.deliveries.filter((d) => taken.has(d)).flatMap((d) => d.seqs);
  assert.equal(accepted, expected, 'the accepted batches hold every change once, in order');
  assert.equal(rx.seqs(), expected);
  const after = await state(id);
  assert.equal([after.state, after.last_error, after.attempts, after.last_seq], ['active', null, 0, expected[expected.length - 1]]);
  const tries = rx.deliveries.filter((d) => !taken.has(d)).length;
  process.stdout.write(`  [subscriptions] failing 5 s: ${tries} refused tries (backoff 100..800 ms), first accepted ${recovered.at - began - 5000} ms after recovery, then ${accepted.length} changes in order\n`);
  assert.is((await call(s.base, 'DELETE', `/subscriptions/${id}`, { as: ROOT })).status, 204);
});

t('paused after SUBSCRIPTION_PAUSE_AFTER of failing; resumed by PATCH state=active, it delivers from where it stopped', async () => {
  const quick = await startServer({ subscriptionRetryMinMs: 100, subscriptionRetryMaxMs: 200, subscriptionPauseAfter: 1, subscriptionAllowHosts: ALLOW });
  const rx = await receiver();
  rx.answer = () => 500;
  try {
    await quick.worker.services.hub.ready;
    const made = await call(quick.base, 'POST', '/subscriptions', { as: ROOT, body: { url: rx.url, secret: SECRET, kinds: ['institutions'] } });
    const id = made.json.id;
    assert.is((await call(quick.base, 'PATCH', '/institutions/ITMIGH001', { as: ROOT, body: { beds: 1 } })).status, 200);
    await waitFor('paused', async () => (await call(quick.base, 'GET', `/subscriptions/${id}`, { as: ROOT })).json.state === 'paused', 10_000);
    const paused = (await call(quick.base, 'GET', `/subscriptions/${id}`, { as: ROOT })).json;
    assert.is(paused.last_error, 'HTTP 5xx');
    const tries = rx.deliveries.length;
    await new Promise((r) => setTimeout(r, 600));
    assert.is(rx.deliveries.length, tries, 'no try while paused');
    rx.answer = () => 204;
    assert.is((await call(quick.base, 'PATCH', `/subscriptions/${id}`, { as: ROOT, body: { state: 'active' } })).status, 200);
    await waitFor('delivered after the resume', async () => (await call(quick.base, 'GET', `/subscriptions/${id}`, { as: ROOT })).json.delivered_at !== null, 10_000);
    assert.equal(rx.deliveries[rx.deliveries.length - 1]!.seqs, rx.deliveries[0]!.seqs, 'the same batch, sent again');
    process.stdout.write(`  [subscriptions] paused after ${tries} failed tries over 1 s; resumed and delivered\n`);
  } finally {
    await quick.close();
  }
});

t('more due subscriptions than a worker may hold (SUBSCRIPTION_CONCURRENCY = 1): they take turns, each gets its changes', async () => {
  const small = await startServer({ subscriptionConcurrency: 1, subscriptionAllowHosts: ALLOW });
  const rxs = [await receiver(), await receiver(), await receiver()];
  try {
    await small.worker.services.hub.ready;
    for (const rx of rxs) assert.is((await call(small.base, 'POST', '/subscriptions', { as: ROOT, body: { url: rx.url, secret: SECRET, kinds: ['units'] } })).status, 201);
    for (let i = 0; i < 3; i++) assert.is((await call(small.base, 'POST', `/domiciliary-units/turns-${i}`, { as: ROOT, body: { n: i } })).status, 201);
    const began = Date.now();
    await waitFor('each receiver got the three changes', () => rxs.every((rx) => rx.seqs().length === 3), 20_000);
    process.stdout.write(`  [subscriptions] 3 subscriptions on a worker holding 1: all delivered within ${Date.now() - began} ms\n`);
  } finally {
    await small.close();
  }
});

t('an owner who loses their login, or a cursor retention passed, pauses the subscription', async () => {
  const rx = await receiver();
  const mk = await call(s.base, 'POST', '/people/NODE0002', { as: ROOT, body: { password: 'node-password-2', roles: ['node'], active: true } });
  assert.is(mk.status, 201);
  const owner = { user: 'NODE0002', password: 'node-password-2' };
  const made = await subscribe(owner, { url: rx.url, secret: SECRET, kinds: ['people'] });
  assert.is((await call(s.base, 'PATCH', '/people/NODE0002', { as: ROOT, body: { active: false } })).status, 200);
  await waitFor('paused for its owner', async () => (await state(made.json.id)).state === 'paused', 10_000);
  assert.match((await state(made.json.id)).last_error, /^OWNER_NOT_ALLOWED/);
  assert.is(rx.deliveries.length, 0, 'nothing was pushed for a deactivated owner');

  // Its receiver refuses, so its cursor stays at 0 whatever the deliverer tries meanwhile.
  const refusing = await receiver();
  refusing.answer = () => 503;
  const old = await subscribe(ROOT, { url: refusing.url, secret: SECRET, kinds: ['institutions'], since: 0 });
  assert.is((await call(s.base, 'PATCH', `/subscriptions/${old.json.id}`, { as: ROOT, body: { state: 'paused' } })).status, 200);
  await s.db.pool.query(`UPDATE changes SET at = now() - interval '400 days' WHERE seq <= 3`);
  assert.ok((await purgeChanges(s.db.pool, 90)) >= 3);
  assert.is((await call(s.base, 'PATCH', `/subscriptions/${old.json.id}`, { as: ROOT, body: { state: 'active' } })).status, 200);
  await waitFor('paused as expired', async () => /^CHANGES_EXPIRED/.test((await state(old.json.id)).last_error ?? ''), 10_000);
  assert.is((await state(old.json.id)).state, 'paused');
});

t.run();
