// The change log and GET /changes: what the triggers record (API writes, psql writes,
// tombstones, no password or document bytes), commit order (a transaction that wrote
// first and commits last is neither lost nor seen twice), the three feeds, the query
// parameters and their refusals, and retention's 410.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type Account } from '../helpers/http.js';
import { openSse, changesOf } from '../helpers/sse.js';
import { purgeChanges } from '../../lib/changes/retention.js';

const t = suite('changes');
let s: TestServer;
const ANA_BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';

t.before(async () => {
  s = await startServer({ changesHeartbeatMs: 200, changesRetentionDays: 30 });
  await s.worker.services.hub.ready;
});
t.after(async () => { await s.close(); });

interface Change { seq: number; kind: string; id: string; person: string | null; page?: string | null; op: string; deleted?: boolean; at: string; doc?: Record<string, unknown> | null }

async function feed(as: Account, query = ''): Promise<{ results: Change[]; last_seq: number }> {
  const r = await call(s.base, 'GET', `/changes${query ? `?${query}` : ''}`, { as });
  assert.is(r.status, 200, `GET /changes?${query}: ${r.text}`);
  return r.json;
}

/** Where `since=now` starts for `as`: the head for a reader of everything, an end user's own newest change (docs/relay.md). */
const head = async (as: Account = ROOT) => (await feed(as, 'since=now')).last_seq;

/** Runs SQL with the psql program, as an operator would by hand. */
function psql(sql: string): void {
  execFileSync('psql', [s.db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

t('API and psql writes appear; a delete is a tombstone; a password change or a rehash at login is no change', async () => {
  const start = await head();
  assert.is((await call(s.base, 'POST', '/pols/ESPGNU777ORG/chg-page-1', { as: ANA, body: { summary: 'via the API' } })).status, 201);
  psql(`INSERT INTO institutions (id, data) VALUES ('chg-inst-1', '{"name": "by hand"}')`);
  psql(`UPDATE institutions SET data = data || '{"beds": 12}' WHERE id = 'chg-inst-1'`);
  psql(`UPDATE institutions SET data = data WHERE id = 'chg-inst-1'`);
  psql(`DELETE FROM institutions WHERE id = 'chg-inst-1'`);
  // Ana's demo hash is bcrypt: this first login replaces it with argon2id.
  assert.is((await call(s.base, 'GET', '/login', { as: ANA })).status, 200);
  assert.is((await call(s.base, 'PATCH', '/people/ESPGNU777ORG', { as: ANA, body: { password: 'gnusolidario' } })).status, 200);
  const { results, last_seq } = await feed(ROOT, `since=${start}`);
  assert.equal(results.map((c) => [c.kind, c.id, c.person, c.op, c.deleted ?? false]), [
    ['pols', 'chg-page-1', 'ESPGNU777ORG', 'create', false],
    ['institutions', 'chg-inst-1', null, 'create', false],
    ['institutions', 'chg-inst-1', null, 'update', false],
    ['institutions', 'chg-inst-1', null, 'delete', true],
  ]);
  assert.is(last_seq, results[3]!.seq);
  assert.ok(results.every((c, i) => i === 0 || c.seq > results[i - 1]!.seq), 'seq order');
  assert.match(results[0]!.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});

t('the log holds names only: no password, hash or document bytes, in its rows or with include_docs', async () => {
  const { rows } = await s.db.pool.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'changes' ORDER BY ordinal_position`);
  assert.equal(rows.map((r) => r.column_name), ['seq', 'txid', 'kind', 'id', 'person', 'page', 'op', 'at']);
  const all = await feed(ROOT, 'include_docs=true');
  const people = all.results.filter((c) => c.kind === 'people' && c.doc);
  assert.ok(people.length >= 3);
  for (const c of people) assert.not.ok('password' in c.doc!, c.id);
  const picture = all.results.find((c) => c.kind === 'documents')!;
  assert.equal([picture.person, picture.page], ['ESPGNU777ORG', ANA_BIRTH]);
  assert.equal(Object.keys(picture.doc!).filter((k) => ['document', 'size'].includes(k)), ['size']);
  assert.ok((picture.doc!.size as number) > 100);
});

t('a page moved to another book by hand: a delete for the first person, a create for the second', async () => {
  const start = await head();
  psql(`INSERT INTO pols (id, book, data) VALUES ('chg-move-1', 'ESPGNU777ORG', '{}'); UPDATE pols SET book = 'ITAPYT999HON' WHERE id = 'chg-move-1'`);
  const { results } = await feed(ROOT, `since=${start}&include_docs=true`);
  assert.equal(results.map((c) => [c.op, c.person, c.doc === null]), [['create', 'ESPGNU777ORG', true], ['delete', 'ESPGNU777ORG', true], ['create', 'ITAPYT999HON', false]]);
  assert.equal((await feed(ANA, `since=${start}&include_docs=true`)).results.map((c) => [c.op, c.doc]), [['create', null], ['delete', null]], 'Ana is not shown the page now in Cameron\'s book');
});

t('commit order: a transaction that wrote first and commits last is numbered last, and nothing is lost or seen twice', async () => {
  const start = await head();
  const sse = await openSse(s.base, `/changes?feed=eventsource&kinds=pols&since=${start}`, { as: ROOT });
  const early = new pg.Client({ connectionString: s.db.url });
  await early.connect();
  try {
    await early.query('BEGIN');
    await early.query(`INSERT INTO pols (id, book, data) VALUES ('ooo-1', 'ESPGNU777ORG', '{"n": 1}')`);
    for (const n of [2, 3, 4]) await s.db.pool.query(`INSERT INTO pols (id, book, data) VALUES ($1, 'ESPGNU777ORG', '{}')`, [`ooo-${n}`]);
    const first = await feed(ROOT, `since=${start}&kinds=pols`);
    assert.equal(first.results.map((c) => c.id), ['ooo-2', 'ooo-3', 'ooo-4']);
    await sse.until('three events', (e) => changesOf(e).length === 3);
    await early.query('COMMIT');
    const second = await feed(ROOT, `since=${first.last_seq}&kinds=pols`);
    assert.equal(second.results.map((c) => c.id), ['ooo-1']);
    await sse.until('four events', (e) => changesOf(e).length === 4);
    const seen = [...first.results, ...second.results].map((c) => c.seq);
    assert.equal(changesOf(sse.events).map((c) => c.seq), seen, 'the stream saw the same, in the same order');
    assert.is(new Set(seen).size, 4);
    assert.ok(seen.every((x, i) => i === 0 || x > seen[i - 1]!), 'in seq order');
    const { rows } = await s.db.pool.query<{ id: string; seq: string; txid: string }>(`SELECT id, seq, txid::text FROM changes WHERE id LIKE 'ooo-%' ORDER BY seq`);
    const txOf = new Map(rows.map((r) => [r.id, Number(r.txid)]));
    assert.ok(rows.every((r) => txOf.get('ooo-1')! < Number(r.txid) || r.id === 'ooo-1'), 'ooo-1 began first (lowest transaction id)');
    process.stdout.write(`  [changes] out of order: ${rows.map((r) => `${r.id} txid ${r.txid} -> seq ${r.seq}`).join(', ')}; first read ${first.results.length}, second ${second.results.length}, SSE ${changesOf(sse.events).length}\n`);
  } finally {
    await early.end();
    sse.close();
  }
});

t('normal feed: limit pages, last_seq, since=now, kinds, person, include_docs', async () => {
  const all = await feed(ROOT);
  assert.ok(all.results.length > 10);
  const page1 = await feed(ROOT, 'limit=4');
  assert.equal(page1.results, all.results.slice(0, 4));
  assert.is(page1.last_seq, all.results[3]!.seq, 'a full page resumes after its last row');
  const page2 = await feed(ROOT, `limit=4&since=${page1.last_seq}`);
  assert.equal(page2.results, all.results.slice(4, 8));
  const now = await feed(ROOT, 'since=now');
  assert.equal([now.results, now.last_seq], [[], all.last_seq]);
  const units = await feed(CAMERON, 'kinds=units,institutions');
  assert.ok(units.results.length >= 2 && units.results.every((c) => c.kind === 'units' || c.kind === 'institutions'));
  assert.is(units.last_seq, all.last_seq, 'a filtered page that is not full resumes from the head');
  const anas = await feed(CAMERON, 'person=espgnu777org&include_docs=true');
  assert.ok(anas.results.length >= 4 && anas.results.every((c) => c.person === 'ESPGNU777ORG'));
  assert.equal(anas.results.find((c) => c.kind === 'people' && c.op === 'create')!.doc!.name, 'Ana');
  assert.not.ok('doc' in all.results[0]!, 'no doc without include_docs');
});

t('query refusals: each is a 400 with its code', async () => {
  for (const q of ['feed=continuous', 'since=-1', 'since=abc', 'since=1e3', 'limit=0', 'limit=1001', 'limit=x', 'kinds=people,nope', 'kinds=', 'include_docs=yes',
    'person=%E2%80%AE', 'feed=longpoll&timeout=300001', 'timeout=-5&feed=longpoll']) {
    const r = await call(s.base, 'GET', `/changes?${q}`, { as: ROOT });
    assert.equal([r.status, r.json?.code], [400, 'INVALID_QUERY'], `${q}: ${r.text}`);
  }
  const head = await call(s.base, 'HEAD', '/changes', { as: ROOT });
  assert.equal([head.status, head.text], [200, '']);
});

t('the ACL: an end user sees their own changes only; global roles see every kind their names allow', async () => {
  const mine = await feed(ANA, 'include_docs=true');
  assert.ok(mine.results.length >= 5);
  assert.ok(mine.results.every((c) => c.person === ANA.user && ['people', 'pols', 'documents'].includes(c.kind)), JSON.stringify(mine.results.map((c) => [c.kind, c.person])));
  const everything = await feed(ROOT);
  const kinds = (r: Change[]) => [...new Set(r.map((c) => c.kind))].sort();
  assert.equal(kinds(everything.results), ['documents', 'institutions', 'people', 'pols', 'units']);
  assert.equal(kinds((await feed(CAMERON)).results), ['documents', 'institutions', 'people', 'pols', 'units']);
  assert.equal((await feed(CAMERON)).results.length, everything.results.length);
  const cases: Array<[Account | undefined, string, number]> = [
    [undefined, '', 401],
    [{ user: ANA.user, password: 'wrong-password' }, '', 401],
    [ANA, `person=${ANA.user}`, 200],
    [ANA, `person=${CAMERON.user}`, 403],
    [ANA, 'kinds=pols', 200],
    [ANA, 'kinds=units', 403],
    [ANA, 'kinds=institutions', 403],
    [ANA, `kinds=pols&person=${CAMERON.user}`, 403],
    [ANA, 'feed=eventsource&person=ITAPYT999HON', 403],
    [CAMERON, `person=${ANA.user}`, 200],
    [CAMERON, 'kinds=units', 200],
    [ROOT, `kinds=people&person=${CAMERON.user}`, 200],
  ];
  for (const [as, q, status] of cases) {
    const r = await call(s.base, 'GET', `/changes?${q}`, { as });
    assert.is(r.status, status, `${as?.user ?? 'anonymous'} ?${q}: ${r.text}`);
    if (status === 403) assert.is(r.json.code, 'FORBIDDEN');
  }
  await s.worker.services.audit.flush();
  const { rows } = await s.db.pool.query(`SELECT count(*)::int AS n FROM audit WHERE route = '/changes' AND action = 'list'`);
  assert.ok(rows[0].n >= cases.length, 'each read of the feed is audited');
});

t('longpoll: waits holding no connection, wakes on a change it may see, and times out past the ones it may not', async () => {
  const start = await head(ANA);
  const pool = s.worker.services.pool;
  const idleBefore = pool.totalCount - pool.idleCount;
  const began = Date.now();
  const waiting = call(s.base, 'GET', `/changes?feed=longpoll&since=${start}&timeout=10000`, { as: ANA });
  const othersOnly = call(s.base, 'GET', `/changes?feed=longpoll&since=${start}&timeout=1500`, { as: ANA });
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(pool.totalCount - pool.idleCount <= idleBefore, 'no connection held while waiting');
  assert.is((await call(s.base, 'PATCH', '/institutions/ITMIGH001', { as: ROOT, body: { lp: 1 } })).status, 200);
  const written = Date.now();
  assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/lp-page-1`, { as: ANA, body: {} })).status, 201);
  const r = await waiting;
  const woke = Date.now();
  assert.equal(r.json.results.map((c: Change) => c.id), ['lp-page-1']);
  assert.ok(woke - began < 5000);
  const timedOut = await othersOnly;
  // It may have woken for lp-page-1 too; either way it never shows the institution.
  assert.ok(timedOut.json.results.every((c: Change) => c.person === ANA.user));
  assert.ok(timedOut.json.last_seq >= start + 1, 'moved to her own change');
  const empty = await call(s.base, 'GET', `/changes?feed=longpoll&since=now&timeout=300&kinds=units`, { as: ROOT });
  assert.equal(empty.json.results, []);
  process.stdout.write(`  [changes] longpoll woke ${woke - written} ms after the write was sent\n`);
});

t('eventsource: id per event, heartbeats, Last-Event-ID resumes with nothing lost or repeated', async () => {
  const start = await head(ANA);
  const a = await openSse(s.base, `/changes?feed=eventsource&since=${start}&kinds=pols`, { as: ANA });
  assert.is(a.status, 200);
  assert.match(String(a.headers['content-type']), /^text\/event-stream/);
  assert.is(a.headers['x-accel-buffering'], 'no');
  for (let i = 1; i <= 5; i++) assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/sse-${i}`, { as: ANA, body: {} })).status, 201);
  await a.until('5 events', (e) => changesOf(e).length === 5);
  a.close();
  const resumeFrom = a.events[2]!.id!;
  for (let i = 6; i <= 8; i++) assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/sse-${i}`, { as: ANA, body: {} })).status, 201);
  const b = await openSse(s.base, `/changes?feed=eventsource&since=${start}&kinds=pols`, { as: ANA, lastEventId: resumeFrom });
  await b.until('5 events after the resume point', (e) => changesOf(e).length === 5);
  assert.equal(changesOf(b.events).map((c) => c.id), ['sse-4', 'sse-5', 'sse-6', 'sse-7', 'sse-8']);
  assert.ok(b.events.every((e) => e.id === String(JSON.parse(e.data).seq)));
  await b.until('a heartbeat', () => b.comments >= 2, 3000);
  b.close();
});

t('a slow SSE client is dropped with a close event when its buffer overflows; the others get everything', async () => {
  const slowServer = await startServer({ changesSseBuffer: 1024 * 1024, changesHeartbeatMs: 1000 });
  try {
    await slowServer.worker.services.hub.ready;
    const start = (await call(slowServer.base, 'GET', '/changes?since=now', { as: ROOT })).json.last_seq;
    const query = `/changes?feed=eventsource&since=${start}&kinds=pols&include_docs=true`;
    const slow = await openSse(slowServer.base, query, { as: ROOT });
    const fast = await openSse(slowServer.base, query, { as: ROOT });
    slow.pause();
    const big = 'x'.repeat(100_000);
    const pool = slowServer.db.pool;
    for (let i = 0; i < 150; i++) await pool.query(`INSERT INTO pols (id, book, data) VALUES ($1, 'ESPGNU777ORG', jsonb_build_object('blob', $2::text))`, [`big-${i}`, big]);
    await fast.until('150 events', (e) => changesOf(e).length === 150, 20_000);
    slow.resume();
    await slow.ended;
    const close = slow.events[slow.events.length - 1]!;
    assert.is(close.event, 'close');
    const info = JSON.parse(close.data);
    assert.is(info.reason, 'overflow');
    const got = changesOf(slow.events);
    assert.ok(got.length < 150, `the slow client was dropped early (${got.length} events)`);
    assert.is(info.last_seq, got[got.length - 1]?.seq ?? start, 'the close event names the last seq it was sent');
    assert.is(close.id, String(info.last_seq));
    assert.is(slowServer.worker.services.hub.size(), 2, 'only the fast client (and the deliverer) still follow');
    process.stdout.write(`  [changes] slow client: dropped after ${got.length} of 150 events of 100 kB (${info.buffered} bytes unread); fast client: ${changesOf(fast.events).length}\n`);
    fast.close();
  } finally {
    await slowServer.close();
  }
});

t('draining the worker ends its streams with a close event at once', async () => {
  const other = await startServer();
  try {
    await other.worker.services.hub.ready;
    const a = await openSse(other.base, '/changes?feed=eventsource&since=now', { as: ROOT });
    const waiting = call(other.base, 'GET', '/changes?feed=longpoll&since=now&timeout=60000', { as: ROOT });
    await new Promise((r) => setTimeout(r, 200));
    const began = Date.now();
    await other.worker.close(10_000);
    await a.ended;
    assert.equal([a.events[a.events.length - 1]!.event, JSON.parse(a.events[a.events.length - 1]!.data).reason], ['close', 'shutdown']);
    assert.equal((await waiting).json.results, []);
    assert.ok(Date.now() - began < 3000, `drained in ${Date.now() - began} ms`);
  } finally {
    await other.db.drop();
  }
});

t('retention: purged rows answer 410 with the oldest available sequence; from there on, 200', async () => {
  const all = await feed(ROOT);
  const cut = all.results[5]!.seq;
  await s.db.pool.query(`UPDATE changes SET at = now() - interval '40 days' WHERE seq <= $1`, [cut]);
  assert.is(await purgeChanges(s.db.pool, 30), 6);
  const gone = await call(s.base, 'GET', '/changes?since=0', { as: ROOT });
  assert.equal([gone.status, gone.json.code, gone.json.oldest_seq], [410, 'CHANGES_EXPIRED', cut + 1]);
  const sse = await call(s.base, 'GET', '/changes?feed=eventsource', { as: ROOT, headers: { 'last-event-id': '3' } });
  assert.equal([sse.status, sse.json.code], [410, 'CHANGES_EXPIRED'], 'a stream refuses before its first byte');
  const from = await feed(ROOT, `since=${cut}`);
  assert.equal(from.results, all.results.slice(6));
  const ahead = await call(s.base, 'GET', `/changes?since=${all.last_seq + 1000}`, { as: ROOT });
  assert.equal([ahead.status, ahead.json.code], [410, 'CHANGES_EXPIRED'], 'a since from another database');
  assert.is(await purgeChanges(s.db.pool, 30), 0, 'idempotent');
});

t.run();
