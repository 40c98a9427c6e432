// test: alone (it measures a worker's RSS and delivery latency)
// Fan-out scales with subscribers, not with database connections: 1,000 concurrent SSE
// subscribers on one worker (a real server process, whose memory is read from /proc)
// share its one LISTEN connection, use no pool connection while they wait, all get
// every change, and stay within the stated memory bound (docs/relay.md).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { migrate } from '../../lib/db/migrate.js';
import { createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { spawnServer, rssOf, type ServerProcess } from '../helpers/process.js';
import { call, CAMERON } from '../helpers/http.js';
import { openSse, changesOf, type SseClient } from '../helpers/sse.js';

const SUBSCRIBERS = 1000;
/** The bound docs/relay.md states for 1,000 idle subscribers on one worker. */
const BOUND_MB = 64;

const t = suite('changes fan-out');
let db: TestDatabase;
let server: ServerProcess;
const clients: SseClient[] = [];

t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  // One account from one address opens all of them: above the per-account and per-address limits' defaults.
  server = await spawnServer(db.url, { THALAMUS_CHANGES_HEARTBEAT_MS: '5000', THALAMUS_CHANGES_STREAMS_PER_ACCOUNT: '2000', THALAMUS_CHANGES_STREAMS_PER_ADDRESS: '2000' });
});
t.after(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  await db.drop();
});

/** The server's connections to the database by application name, and how many are busy (not idle). */
async function connections(): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ app: string; n: number; busy: number }>(
    `SELECT application_name AS app, count(*)::int AS n, count(*) FILTER (WHERE state <> 'idle')::int AS busy
     FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'thalamus%' GROUP BY 1`);
  return Object.fromEntries(rows.flatMap((r) => [[r.app, r.n], [`${r.app} busy`, r.busy]]));
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20 * 10) / 10;

t(`${SUBSCRIBERS} SSE subscribers on one worker: one LISTEN connection, every change to each, memory within ${BOUND_MB} MB`, async () => {
  // Warm up: the credential cache and the first stream (code paths, buffers).
  const warm = await openSse(server.base, '/changes?feed=eventsource&since=now', { as: CAMERON });
  assert.is(warm.status, 200);
  warm.close();
  assert.is((await call(server.base, 'GET', '/changes?limit=1', { as: CAMERON })).status, 200);
  await new Promise((r) => setTimeout(r, 500));
  const before = rssOf(server.pid);
  const opened = Date.now();
  for (let i = 0; i < SUBSCRIBERS; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, SUBSCRIBERS - i) }, () => openSse(server.base, '/changes?feed=eventsource&since=now', { as: CAMERON, openapi: false })));
    for (const c of batch) { assert.is(c.status, 200); clients.push(c); }
  }
  const openMs = Date.now() - opened;
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssOf(server.pid);
  const conns = await connections();
  assert.is(conns['thalamus-listen'], 1, `one LISTEN connection: ${JSON.stringify(conns)}`);
  assert.ok((conns.thalamus ?? 0) <= 10, `the pool stays within POOL_SIZE while ${SUBSCRIBERS} follow: ${JSON.stringify(conns)}`);
  assert.is(conns['thalamus busy'] ?? 0, 0, 'no subscriber holds a pool connection while it waits');

  const written = Date.now();
  await db.pool.query(`UPDATE institutions SET data = data || '{"fanout": 1}' WHERE id = 'ITMIGH001'`);
  const arrived: number[] = [];
  await Promise.all(clients.map(async (c) => { await c.until('the change', (e) => changesOf(e).length === 1, 20_000); arrived.push(Date.now() - written); }));
  arrived.sort((a, b) => a - b);
  const burstAt = Date.now();
  for (let i = 0; i < 100; i++) await db.pool.query(`UPDATE institutions SET data = data || jsonb_build_object('fanout', $1::int) WHERE id = 'ITMIGH001'`, [i + 2]);
  await Promise.all(clients.map((c) => c.until('101 changes', (e) => changesOf(e).length === 101, 30_000)));
  const burstMs = Date.now() - burstAt;
  const peak = rssOf(server.pid);
  for (const c of clients) {
    const seqs = changesOf(c.events).map((x) => x.seq);
    assert.ok(seqs.every((x, i) => i === 0 || x === seqs[i - 1]! + 1), 'every change, in order');
  }
  const growth = after - before;
  process.stdout.write(`  [changes] ${SUBSCRIBERS} SSE subscribers opened in ${openMs} ms; worker RSS ${mb(before)} -> ${mb(after)} MB (+${mb(growth)} MB, ${Math.round(growth / SUBSCRIBERS / 1024 * 10) / 10} KiB each), `
    + `${mb(peak)} MB after 101 changes to each; database connections ${JSON.stringify(conns)}; one change reached all in p50 ${arrived[arrived.length >> 1]} ms, max ${arrived[arrived.length - 1]} ms; `
    + `100 more to each (${SUBSCRIBERS * 100} events) in ${burstMs} ms\n`);
  assert.ok(growth < BOUND_MB * 2 ** 20, `RSS grew ${mb(growth)} MB for ${SUBSCRIBERS} subscribers (bound ${BOUND_MB} MB)`);
  assert.ok(peak - before < BOUND_MB * 2 ** 20, `RSS after the burst ${mb(peak - before)} MB above the start (bound ${BOUND_MB} MB)`);
});

t.run();
