// Subscriptions between accounts (issue 20, findings 8 and 9): an account holds at most
// SUBSCRIPTION_MAX_PER_OWNER subscriptions (also under parallel creation), one account's
// thousand idle subscriptions do not delay another account's batch (the scan for due
// subscriptions takes owners in turn), and a global `subscriptions` grant reaches only
// its holder's own subscriptions: another account's are seen and changed only with
// account administration (ACL name `roles`).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT as PROJECT, loadConfig } from '../../lib/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, ROOT, type Account } from '../helpers/http.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/cluster.js';

const SECRET = 'owners-test-shared-secret';
const NODE_A: Account = { user: 'NODEA0001', password: 'node-a-password' };
const NODE_B: Account = { user: 'NODEB0001', password: 'node-b-password' };

const t = suite('subscriptions between owners');
let dir = '';
const receivers: Receiver[] = [];

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'thalamus-owners-'));
  const shipped = JSON.parse(readFileSync(join(PROJECT, 'etc', 'roles.cfg'), 'utf8'));
  // What docs/relay.md advises: the nodes' role holds `subscriptions`, globally (to follow everyone's changes).
  const node = { role: 'node', permissions: { GET: ['login', 'changes', 'people', 'book', 'subscriptions'], POST: ['subscriptions'], PATCH: ['subscriptions'], DELETE: ['subscriptions'], global: 'True' } };
  writeFileSync(join(dir, 'roles.cfg'), JSON.stringify([...shipped, node]));
});
t.after(async () => {
  for (const r of receivers) await r.close();
  rmSync(dir, { recursive: true, force: true });
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver(SECRET);
  receivers.push(r);
  return r;
}

async function withNodes(overrides: Record<string, unknown>, fn: (s: TestServer) => Promise<void>): Promise<void> {
  // The receivers are on loopback, the other hosts stand for nodes: the operator's list names them.
  const allow = ['127.0.0.1', 'a.example.org', 'b.example.org', 'root.example.org', 'node.example.org', 'attacker.example.net'];
  const s = await startServer({ acl: join(dir, 'roles.cfg'), subscriptionAllowHosts: allow, ...overrides });
  try {
    for (const a of [NODE_A, NODE_B]) {
      const r = await call(s.base, 'POST', `/people/${a.user}`, { as: ROOT, body: { password: a.password, roles: ['node'], active: true } });
      assert.is(r.status, 201, r.text);
    }
    await s.worker.services.hub.ready;
    await fn(s);
  } finally {
    await s.close();
  }
}

t('a global `subscriptions` grant reaches its own subscriptions only; account administration reaches all', async () => {
  await withNodes({}, async (s) => {
    const mine = await call(s.base, 'POST', '/subscriptions', { as: NODE_A, body: { url: 'https://a.example.org/hook', secret: SECRET, kinds: ['people'] } });
    const theirs = await call(s.base, 'POST', '/subscriptions', { as: NODE_B, body: { url: 'https://b.example.org/hook', secret: SECRET, kinds: ['people'] } });
    const roots = await call(s.base, 'POST', '/subscriptions', { as: ROOT, body: { url: 'https://root.example.org/hook', secret: SECRET } });
    assert.equal([mine.status, theirs.status, roots.status], [201, 201, 201]);
    const stored = async () => (await s.db.pool.query(`SELECT id, owner, url, secret, state FROM subscriptions ORDER BY id`)).rows;
    const before = await stored();

    const listed = await call(s.base, 'GET', '/subscriptions', { as: NODE_A });
    assert.is(listed.status, 200);
    const owners = listed.json.map((x: { owner: string }) => x.owner);
    const attacks = [
      ['GET', `/subscriptions/${theirs.json.id}`, undefined],
      ['GET', `/subscriptions/${roots.json.id}`, undefined],
      ['PATCH', `/subscriptions/${theirs.json.id}`, { url: 'https://attacker.example.net/steal', secret: 'attacker-chosen-secret' }],
      ['PATCH', `/subscriptions/${roots.json.id}`, { state: 'paused' }],
      ['DELETE', `/subscriptions/${theirs.json.id}`, undefined],
    ] as const;
    const answers = [];
    for (const [method, path, body] of attacks) answers.push((await call(s.base, method, path, { as: NODE_A, body })).status);
    process.stdout.write(`  [owners] a global node grant: lists ${owners.length} subscriptions (owners ${[...new Set(owners)].join(', ')}); another's read/patch/delete answered ${answers.join(', ')}\n`);
    assert.equal(owners, [NODE_A.user], 'the node lists its own only');
    assert.equal(answers, [404, 404, 404, 404, 404]);
    assert.equal(await stored(), before, 'nothing of another account changed');
    const body404 = await call(s.base, 'PATCH', `/subscriptions/${theirs.json.id}`, { as: NODE_A, body: { state: 'paused' } });
    assert.equal(body404.json, { error: 'Subscription not found', code: 'NOT_FOUND' });

    // Its own: read, changed, removed as before.
    assert.is((await call(s.base, 'PATCH', `/subscriptions/${mine.json.id}`, { as: NODE_A, body: { state: 'paused' } })).json.state, 'paused');
    // Account administration (root: ACL name `roles`) reaches every account's.
    const all = await call(s.base, 'GET', '/subscriptions', { as: ROOT });
    assert.equal(all.json.map((x: { owner: string }) => x.owner), [NODE_A.user, NODE_B.user, ROOT.user]);
    assert.is((await call(s.base, 'PATCH', `/subscriptions/${theirs.json.id}`, { as: ROOT, body: { state: 'paused' } })).status, 200);
    assert.is((await call(s.base, 'DELETE', `/subscriptions/${theirs.json.id}`, { as: ROOT })).status, 204);
    assert.is((await call(s.base, 'DELETE', `/subscriptions/${mine.json.id}`, { as: NODE_A })).status, 204);
    assert.is((await call(s.base, 'GET', `/subscriptions/${roots.json.id}`, { as: ANA })).status, 403);
  });
});

t('SUBSCRIPTION_MAX_PER_OWNER: the next one is 409, a resend is still 200, and 30 parallel creations store exactly the cap', async () => {
  assert.is(loadConfig(undefined, {}).subscriptionMaxPerOwner, 20, 'the default cap');
  await withNodes({ subscriptionMaxPerOwner: 5 }, async (s) => {
    const make = (as: Account, n: number) => call(s.base, 'POST', '/subscriptions', { as, body: { url: `https://node.example.org/hook-${n}`, secret: SECRET, kinds: ['people'] } });
    for (let i = 0; i < 5; i++) assert.is((await make(NODE_A, i)).status, 201);
    const over = await make(NODE_A, 5);
    assert.equal([over.status, over.json?.code], [409, 'TOO_MANY_SUBSCRIPTIONS'], over.text);
    assert.match(over.json.error, /5 subscriptions/);
    assert.is((await make(NODE_A, 3)).status, 200, 'a resend of one it has');
    assert.is((await make(NODE_B, 0)).status, 201, 'another account has its own cap');
    const ids = (await call(s.base, 'GET', '/subscriptions', { as: NODE_A })).json.map((x: { id: number }) => x.id);
    assert.is((await call(s.base, 'DELETE', `/subscriptions/${ids[0]}`, { as: NODE_A })).status, 204);
    assert.is((await make(NODE_A, 6)).status, 201, 'room again after a delete');

    const parallel = await Promise.all(Array.from({ length: 30 }, (_, i) => make(NODE_B, 100 + i)));
    const statuses = parallel.map((r) => r.status).sort();
    const { rows } = await s.db.pool.query(`SELECT count(*)::int AS n FROM subscriptions WHERE owner = $1`, [NODE_B.user]);
    process.stdout.write(`  [owners] 30 parallel creations with a cap of 5 (1 held already): ${rows[0].n} stored\n`);
    assert.is(rows[0].n, 5);
    assert.is(statuses.filter((x) => x === 201).length, 4);
    assert.ok(parallel.every((r) => r.status === 201 || (r.status === 409 && r.json.code === 'TOO_MANY_SUBSCRIPTIONS')));
  });
});

t('1,100 idle subscriptions of one owner do not delay another owner\'s batch', async () => {
  await withNodes({}, async (s) => {
    const idle = await receiver();
    const head = async () => (await call(s.base, 'GET', '/changes?since=now', { as: ROOT })).json.last_seq as number;
    let pages = 0;
    /** Milliseconds from a page's write to its delivery to `rx`. */
    const latency = async (rx: Receiver) => {
      const n = ++pages;
      const before = rx.seqs().length;
      const at = Date.now();
      assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/fair-${n}`, { as: ROOT, body: { n } })).status, 201);
      await waitFor(`page ${n} delivered to the other owner`, () => rx.seqs().length > before, 120_000);
      return Date.now() - at;
    };
    const subscribe = async (rx: Receiver) => {
      const made = await call(s.base, 'POST', '/subscriptions', { as: NODE_B, body: { url: rx.url, secret: SECRET, kinds: ['pols'] } });
      assert.is(made.status, 201, made.text);
      return made.json.id as number;
    };
    const first = await receiver();
    const firstId = await subscribe(first);
    const alone = await latency(first);
    assert.is((await call(s.base, 'DELETE', `/subscriptions/${firstId}`, { as: NODE_B })).status, 204);
    // One owner's subscriptions made before the cap existed (or under a raised one),
    // stored as the API stores them: caught up, for a kind that does not change here.
    await s.db.pool.query(
      `INSERT INTO subscriptions (owner, url, secret, kinds, last_seq)
       SELECT $1, $2 || '-' || g, $3, '{people}', $4 FROM generate_series(1, 1100) g`, [NODE_A.user, idle.url, SECRET, await head()]);
    s.worker.services.deliverer.scan();
    await new Promise((r) => setTimeout(r, 2500));
    // Another owner subscribes after them, as a new node joining the federation.
    const other = await receiver();
    await subscribe(other);
    const crowded: number[] = [];
    for (let i = 0; i < 3; i++) crowded.push(await latency(other));
    process.stdout.write(`  [owners] another owner's batch: ${alone} ms alone; ${crowded.join(', ')} ms beside 1,100 idle subscriptions of one owner\n`);
    assert.is(idle.deliveries.length, 0, 'the idle ones had nothing to send');
    assert.ok(Math.max(...crowded) < 3000, `delivered within 3 s (${crowded.join(', ')} ms)`);
  });
});

t.run();
