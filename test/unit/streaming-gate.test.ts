// The listing gate (lib/http/gate.ts, lib/http/listings.ts) on its own, and the
// configuration keys of listings: who passes when, and what a deployment may set.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Gate, type Release } from '../../lib/http/gate.js';
import { createListingGate } from '../../lib/http/listings.js';
import { loadConfig, ConfigError, ROOT } from '../../lib/config.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const busy = () => new Error('busy');
const LIMITS: Record<string, number> = { all: 2, 'a:x': 1, 'a:y': 1 };
const gateOf = () => new Gate((key) => LIMITS[key] ?? 1);
const take = (g: Gate, keys: string[], first = false, timeoutMs = 1000, signal?: AbortSignal) =>
  g.acquire(keys, { timeoutMs, onTimeout: busy, first, signal });

const t = suite('streaming: the listing gate');

t('a waiter on a full key keeps it for itself but does not hold back others', async () => {
  const g = gateOf();
  const x1 = await take(g, ['all', 'a:x']);
  const order: string[] = [];
  const x2 = take(g, ['all', 'a:x']).then((r) => { order.push('x2'); return r; });
  const y1 = take(g, ['all', 'a:y']).then((r) => { order.push('y1'); return r; });
  await sleep(10);
  assert.equal(order, ['y1'], 'x2 waits for its account; y1 passes');
  assert.is(g.count('all'), 2);
  x1();
  (await y1)();
  await sleep(0);
  assert.equal(order, ['y1', 'x2']);
  (await x2)();
  assert.is(g.count('all'), 0);
  assert.is(g.queued, 0);
});

t('waiters marked first pass before the others; the rest keep their order', async () => {
  const g = new Gate(() => 1);
  const held = await take(g, ['k']);
  const order: string[] = [];
  const wait = (name: string, first: boolean) => take(g, ['k'], first).then((r: Release) => { order.push(name); r(); });
  const all = [wait('new1', false), wait('new2', false), wait('resume1', true), wait('resume2', true)];
  held();
  await Promise.all(all);
  assert.equal(order, ['resume1', 'resume2', 'new1', 'new2']);
});

t('a wait past its bound rejects with the given error; an aborted wait rejects and frees its place', async () => {
  const g = new Gate(() => 1);
  const held = await take(g, ['k']);
  const start = Date.now();
  const late = await take(g, ['k'], false, 50).then(() => 'passed', (e: Error) => e.message);
  assert.is(late, 'busy');
  assert.ok(Date.now() - start >= 45);
  const abort = new AbortController();
  const aborted = take(g, ['k'], false, 5000, abort.signal).then(() => 'passed', (e: Error) => e.message);
  const behind = take(g, ['k'], false, 5000);
  abort.abort();
  assert.is(await aborted, 'aborted');
  held();
  (await behind)();
  assert.is(g.queued, 0);
  assert.is(g.count('k'), 0);
});

t('the listing gate: open listings per worker, account and address; connections for listings', async () => {
  const gate = createListingGate({ perWorker: 3, perAccount: 2, perAddress: 2, connections: 1, queueMs: 50, stallMs: 10, idleMs: 100, batchChars: 1024 });
  const a = await gate.admit({ account: 'A', address: '1' });
  const b = await gate.admit({ account: 'A', address: '2' });
  const refused = await gate.admit({ account: 'A', address: '3' }).then(() => undefined, (e: { status: number; code: string; headers: Record<string, string> }) => e);
  assert.equal([refused?.status, refused?.code, refused?.headers['Retry-After']], [503, 'LISTINGS_BUSY', '1']);
  const c = await gate.admit({ account: 'B', address: '2' });
  assert.equal(gate.stats(), { open: 3, reading: 0, queued: 0 });
  const conn = await gate.connection(false);
  const resumed = gate.connection(true);
  assert.equal(gate.stats(), { open: 3, reading: 1, queued: 1 });
  conn();
  (await resumed)();
  for (const r of [a, b, c]) r();
  assert.equal(gate.stats(), { open: 0, reading: 0, queued: 0 });
});
t.run();

const cfg = suite('streaming: listing settings');

cfg('etc/thalamus.cfg gives the documented defaults', () => {
  const c = loadConfig(join(ROOT, 'etc', 'thalamus.cfg'), {});
  assert.equal(
    [c.listingsPerWorker, c.listingsPerAccount, c.listingsPerAddress, c.listingReserve, c.listingQueueTimeout, c.listingStallMs, c.listingIdleTimeout, c.listingBatchChars],
    [32, 4, 16, 3, 10_000, 500, 60_000, 256 * 1024]);
});

cfg('refused: zero limits, an idle timeout not longer than the stall bound', () => {
  const refusals: [Record<string, string>, RegExp][] = [
    [{ THALAMUS_LISTINGS_PER_ACCOUNT: '0' }, /LISTINGS_PER_ACCOUNT: must be at least 1/],
    [{ THALAMUS_LISTINGS_PER_WORKER: '0' }, /LISTINGS_PER_WORKER: must be at least 1/],
    [{ THALAMUS_LISTING_BATCH_BYTES: '0' }, /LISTING_BATCH_BYTES: must be at least 1/],
    [{ THALAMUS_LISTING_IDLE_TIMEOUT: '500' }, /LISTING_IDLE_TIMEOUT: must be longer than LISTING_STALL_MS \(500\)/],
  ];
  for (const [env, message] of refusals) {
    try {
      loadConfig(join(ROOT, 'etc', 'thalamus.cfg'), env);
      assert.unreachable(`accepted ${JSON.stringify(env)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as Error).message, message);
    }
  }
  assert.is(loadConfig(join(ROOT, 'etc', 'thalamus.cfg'), { THALAMUS_LISTING_BATCH_BYTES: '64KiB' }).listingBatchChars, 64 * 1024);
});
cfg.run();
