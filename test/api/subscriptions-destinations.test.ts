// Where Thalamus may POST health data (issue 20, finding 7): a subscription's URL is
// resolved and refused when it names a loopback, private, link-local (the cloud
// metadata service), unspecified or otherwise internal address, at creation and again
// at each connection (a DNS answer can change after creation), unless
// SUBSCRIPTION_ALLOW_HOSTS names it; and `last_error` says only a coarse class, so a
// subscription is no port scanner. The DNS answers of `rebind.test` come from a
// resolver the test gives the server (the same function the server calls for every
// lookup), so the test can re-point it as a hostile DNS server would.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ROOT } from '../helpers/http.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { waitFor, sleep, freePort } from '../helpers/cluster.js';
import type { Resolver } from '../../lib/subscriptions/destination.js';
import { ConfigError, loadConfig } from '../../lib/config.js';

const SECRET = 'destinations-shared-secret';
const NOT_ALLOWED = 'DESTINATION_NOT_ALLOWED';

const t = suite('subscription destinations');
let s: TestServer;
const receivers: Receiver[] = [];

t.before(async () => {
  s = await startServer({ subscriptionRetryMinMs: 100, subscriptionRetryMaxMs: 400 });
  await s.worker.services.hub.ready;
});
t.after(async () => {
  for (const r of receivers) await r.close();
  await s.close();
});

async function receiver(host?: string, port?: number): Promise<Receiver> {
  const r = await startReceiver(SECRET, { host, port });
  receivers.push(r);
  return r;
}

const rows = async (db: TestServer) => (await db.db.pool.query(`SELECT id, url FROM subscriptions ORDER BY id`)).rows;

t('creation refuses loopback, private, link-local, metadata and unspecified addresses, and names resolving to them; PATCH too', async () => {
  const api = new URL(s.base).port;
  const targets: Array<[string, string]> = [
    [`http://127.0.0.1:${api}/people`, 'the API itself'],
    ['http://127.0.0.1:9191/metrics', 'the admin listener'],
    ['http://127.0.0.1:5432/', 'PostgreSQL'],
    ['http://127.1.2.3:22/', 'another loopback address'],
    [`http://localhost:${api}/`, 'a name resolving to loopback'],
    ['http://[::1]:5432/', 'IPv6 loopback'],
    ['https://2130706433/', '127.0.0.1 written as a number'],
    ['https://0x7f.1/', '127.0.0.1 in hex'],
    ['https://[::ffff:127.0.0.1]/', 'IPv4-mapped loopback'],
    ['https://169.254.169.254/latest/meta-data/', 'the cloud metadata service'],
    ['https://[::ffff:169.254.169.254]/latest/meta-data/', 'the metadata service, IPv4-mapped'],
    ['https://[64:ff9b::a9fe:a9fe]/latest/meta-data/', 'the metadata service through NAT64'],
    ['https://[fd00:ec2::254]/latest/meta-data/', 'the IPv6 metadata service (unique local)'],
    ['https://10.1.2.3/', 'private 10/8'],
    ['https://172.16.0.1/', 'private 172.16/12'],
    ['https://192.168.1.1/', 'private 192.168/16'],
    ['https://100.64.0.1/', 'carrier-grade NAT'],
    ['https://0.0.0.0/', 'unspecified'],
    ['https://[::]/', 'IPv6 unspecified'],
    ['https://[fe80::1]/', 'IPv6 link-local'],
    ['https://[fc00::1]/', 'IPv6 unique local'],
    ['https://224.0.0.1/', 'multicast'],
    ['https://255.255.255.255/', 'broadcast'],
  ];
  const before = await rows(s);
  const accepted: string[] = [];
  for (const [url, what] of targets) {
    const r = await call(s.base, 'POST', '/subscriptions', { as: ROOT, body: { url, secret: SECRET } });
    if (r.status === 201 || r.status === 200) accepted.push(`${what} (${url})`);
    else assert.equal([r.status, r.json?.code], [400, NOT_ALLOWED], `${what}: ${r.text}`);
  }
  process.stdout.write(`  [destinations] ${accepted.length} of ${targets.length} internal destinations accepted at creation\n`);
  assert.equal(accepted, [], 'every internal destination is refused');
  assert.equal(await rows(s), before, 'nothing was stored');

  // A subscription to a public name may not be re-pointed inside by PATCH either.
  const ok = await call(s.base, 'POST', '/subscriptions', { as: ROOT, body: { url: 'https://203.0.113.7/hook', secret: SECRET, kinds: ['units'] } });
  assert.is(ok.status, 201, ok.text);
  for (const url of ['https://169.254.169.254/', `http://127.0.0.1:${api}/`, 'https://[::1]/']) {
    const r = await call(s.base, 'PATCH', `/subscriptions/${ok.json.id}`, { as: ROOT, body: { url } });
    assert.equal([r.status, r.json?.code], [400, NOT_ALLOWED], url);
  }
  assert.is((await call(s.base, 'GET', `/subscriptions/${ok.json.id}`, { as: ROOT })).json.url, 'https://203.0.113.7/hook');
  assert.is((await call(s.base, 'DELETE', `/subscriptions/${ok.json.id}`, { as: ROOT })).status, 204);
});

t('last_error is a coarse class: a closed port, an HTTP service and a plain port spoken to in TLS cannot be told apart beyond it', async () => {
  // Loopback is allowed here by the operator's list, so the three can be reached at all.
  const open = await startServer({ subscriptionRetryMinMs: 100, subscriptionRetryMaxMs: 400, subscriptionAllowHosts: ['127.0.0.1'] });
  try {
    await open.worker.services.hub.ready;
    const plain = await receiver();
    plain.answer = () => 405;
    const closed = await freePort();
    const port = new URL(plain.url).port;
    const probes: Record<string, string> = {
      closed: `http://127.0.0.1:${closed}/`,
      http405: plain.url,
      tlsToPlain: `https://127.0.0.1:${port}/`,
      api: `${open.base}/people`,
    };
    const ids: Record<string, number> = {};
    for (const [name, url] of Object.entries(probes)) {
      const r = await call(open.base, 'POST', '/subscriptions', { as: ROOT, body: { url, secret: SECRET, kinds: ['institutions'] } });
      assert.is(r.status, 201, `${name}: ${r.text}`);
      ids[name] = r.json.id;
    }
    assert.is((await call(open.base, 'PATCH', '/institutions/ITMIGH001', { as: ROOT, body: { beds: 7 } })).status, 200);
    const errorOf = async (id: number) => (await call(open.base, 'GET', `/subscriptions/${id}`, { as: ROOT })).json.last_error as string | null;
    await waitFor('every probe failed once', async () => (await Promise.all(Object.values(ids).map(errorOf))).every((e) => e !== null), 10_000);
    const seen: Record<string, string | null> = {};
    for (const [name, id] of Object.entries(ids)) seen[name] = await errorOf(id);
    process.stdout.write(`  [destinations] last_error: ${JSON.stringify(seen)}\n`);
    assert.equal(seen, {
      closed: 'CONNECTION_FAILED: the receiver could not be reached (connection or TLS failed)',
      http405: 'HTTP 4xx',
      tlsToPlain: 'CONNECTION_FAILED: the receiver could not be reached (connection or TLS failed)',
      api: 'HTTP 4xx',
    });
  } finally {
    await open.close();
  }
});

t('refused again at delivery: a name that resolved to an allowed address, re-pointed to a refused one, gets nothing more', async () => {
  const answers = new Map<string, string[]>();
  const lookups: string[] = [];
  const resolve: Resolver = async (hostname) => {
    lookups.push(hostname);
    const list = answers.get(hostname);
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  // 127.0.0.1 stands for the node's public address: the operator lists it; 127.0.0.2 does not.
  const rebind = await startServer({
    subscriptionRetryMinMs: 100, subscriptionRetryMaxMs: 400, subscriptionAllowHosts: ['127.0.0.1'], subscriptionAllowHttp: true,
  }, { resolve });
  try {
    await rebind.worker.services.hub.ready;
    const first = await receiver('127.0.0.1');
    const port = Number(new URL(first.url).port);
    const inside = await receiver('127.0.0.2', port);
    const url = `http://rebind.test:${port}/hook`;

    assert.equal((await call(rebind.base, 'POST', '/subscriptions', { as: ROOT, body: { url, secret: SECRET } })).json?.code, NOT_ALLOWED, 'unresolved: refused');
    answers.set('rebind.test', ['203.0.113.9', '127.0.0.2']);
    assert.equal((await call(rebind.base, 'POST', '/subscriptions', { as: ROOT, body: { url, secret: SECRET } })).json?.code, NOT_ALLOWED, 'one refused address among several: refused');
    answers.set('rebind.test', ['127.0.0.1']);
    const made = await call(rebind.base, 'POST', '/subscriptions', { as: ROOT, body: { url, secret: SECRET, kinds: ['units'] } });
    assert.is(made.status, 201, made.text);
    const id = made.json.id;
    assert.is((await call(rebind.base, 'POST', '/domiciliary-units/REBIND-1', { as: ROOT, body: { n: 1 } })).status, 201);
    await waitFor('the first change, at the allowed address', () => first.deliveries.length === 1, 10_000);

    // The DNS answer changes; the allowed receiver goes (so no kept-alive connection remains).
    answers.set('rebind.test', ['127.0.0.2']);
    await first.close();
    const looked = lookups.length;
    assert.is((await call(rebind.base, 'POST', '/domiciliary-units/REBIND-2', { as: ROOT, body: { n: 2 } })).status, 201);
    const state = async () => (await call(rebind.base, 'GET', `/subscriptions/${id}`, { as: ROOT })).json;
    await waitFor('two refused tries', async () => (await state()).attempts >= 2, 10_000);
    await sleep(300);
    const failing = await state();
    process.stdout.write(`  [destinations] after the DNS change: ${inside.deliveries.length} deliveries to the refused address, ${failing.attempts} refused tries, last_error ${JSON.stringify(failing.last_error)}\n`);
    assert.is(inside.deliveries.length, 0, 'nothing reached the re-pointed address');
    assert.ok(lookups.length > looked, 'the name was resolved again at delivery');
    assert.equal([failing.state, failing.last_error], ['failing', 'DESTINATION_NOT_ALLOWED: the receiver\'s address is one subscriptions may not reach']);

    // Pointed back to the allowed address, it delivers what it held back.
    answers.set('rebind.test', ['127.0.0.1']);
    const back = await receiver('127.0.0.1', port);
    await waitFor('delivered after the DNS answer is allowed again', () => back.deliveries.length >= 1, 10_000);
    assert.is(inside.deliveries.length, 0);
  } finally {
    await rebind.close();
  }
});

t('a subscription stored before this check (an upgraded database) to a loopback address is refused at delivery', async () => {
  const rx = await receiver();
  const head = (await call(s.base, 'GET', '/changes?since=now', { as: ROOT })).json.last_seq;
  const { rows: [row] } = await s.db.pool.query(
    `INSERT INTO subscriptions (owner, url, secret, kinds, last_seq) VALUES ($1, $2, $3, '{units}', $4) RETURNING id`, [ROOT.user, rx.url, SECRET, head]);
  s.worker.services.deliverer.scan();
  assert.is((await call(s.base, 'POST', '/domiciliary-units/OLD-ROW-1', { as: ROOT, body: { n: 1 } })).status, 201);
  const state = async () => (await call(s.base, 'GET', `/subscriptions/${row.id}`, { as: ROOT })).json;
  await waitFor('two refused tries, or a delivery', async () => rx.deliveries.length > 0 || (await state()).attempts >= 2, 10_000);
  process.stdout.write(`  [destinations] a stored loopback subscription: ${rx.deliveries.length} deliveries, ${(await state()).attempts} refused tries\n`);
  assert.is(rx.deliveries.length, 0, 'nothing reached the loopback receiver');
  assert.equal([(await state()).state, (await state()).last_error], ['failing', 'DESTINATION_NOT_ALLOWED: the receiver\'s address is one subscriptions may not reach']);
  assert.is((await call(s.base, 'DELETE', `/subscriptions/${row.id}`, { as: ROOT })).status, 204);
});

t('SUBSCRIPTION_ALLOW_HOSTS: a named host, an address and a range are allowed; nothing else is', async () => {
  const resolve: Resolver = async (hostname) => {
    const table: Record<string, string> = { 'hmis.hospital.internal': '10.20.0.5', 'other.hospital.internal': '10.30.0.5' };
    if (!table[hostname]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return [{ address: table[hostname]!, family: 4 }];
  };
  const listed = await startServer({ subscriptionAllowHosts: ['hmis.hospital.internal', '192.168.7.7', '172.20.0.0/16'] }, { resolve });
  try {
    const cases: Array<[string, number]> = [
      ['https://hmis.hospital.internal/hook', 201],
      ['https://HMIS.hospital.internal/other', 201],
      ['https://192.168.7.7/hook', 201],
      ['https://172.20.1.2/hook', 201],
      ['https://other.hospital.internal/hook', 400],
      ['https://192.168.7.8/hook', 400],
      ['https://172.21.0.1/hook', 400],
      ['https://127.0.0.1/hook', 400],
    ];
    for (const [url, status] of cases) {
      const r = await call(listed.base, 'POST', '/subscriptions', { as: ROOT, body: { url, secret: SECRET, kinds: ['units'] } });
      assert.is(r.status, status, `${url}: ${r.text}`);
      if (status === 400) assert.is(r.json.code, NOT_ALLOWED);
    }
  } finally {
    await listed.close();
  }
});

t('SUBSCRIPTION_ALLOW_HOSTS refuses entries that are no host name, address or range, naming the key', () => {
  assert.equal(loadConfig(undefined, { THALAMUS_SUBSCRIPTION_ALLOW_HOSTS: 'hmis.example.org, 10.0.0.0/8 ::1' }).subscriptionAllowHosts, ['hmis.example.org', '10.0.0.0/8', '::1']);
  assert.equal(loadConfig(undefined, {}).subscriptionAllowHosts, [], 'none by default');
  for (const bad of ['http://hmis.example.org', 'hmis_example', '10.0.0.0/33', '*.example.org']) {
    assert.throws(() => loadConfig(undefined, { THALAMUS_SUBSCRIPTION_ALLOW_HOSTS: bad }), (err: Error) => err instanceof ConfigError && /SUBSCRIPTION_ALLOW_HOSTS/.test(err.message), bad);
  }
});

t.run();
