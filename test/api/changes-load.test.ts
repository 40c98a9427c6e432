// 10,000 writes from 4 concurrent writers (single INSERTs, single UPDATEs, 5-row
// transactions that commit out of the order of their first writes, and the HTTP API), followed by 3 followers
// at once: normal paging, longpoll, and SSE with a reconnect in the middle. Every
// follower must see every change exactly once, in seq order.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ROOT } from '../helpers/http.js';
import { openSse, changesOf, type SseClient } from '../helpers/sse.js';

/** Writes of each SQL writer; the API writer makes the rest of TOTAL. */
const PER_WRITER = 3000;
const TOTAL = 10_000;
const API_WRITES = TOTAL - 3 * PER_WRITER;
const PEOPLE = 50;

const t = suite('changes under load');
let s: TestServer;
t.before(async () => {
  s = await startServer();
  await s.worker.services.hub.ready;
  await s.db.pool.query(`INSERT INTO people (id, data) SELECT 'LOAD' || g, jsonb_build_object('id', 'LOAD' || g, 'n', 0) FROM generate_series(1, ${PEOPLE}) g`);
});
t.after(async () => { await s.close(); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sqlWriter(kind: 'insert' | 'update' | 'tx'): Promise<void> {
  const c = new pg.Client({ connectionString: s.db.url });
  await c.connect();
  // Commit order and visibility do not depend on the flush; this only spares the disk.
  await c.query('SET synchronous_commit = off');
  try {
    if (kind === 'insert') {
      for (let i = 0; i < PER_WRITER; i++) await c.query(`INSERT INTO pols (id, book, data) VALUES ($1, $2, '{}')`, [`load-${i}`, `LOAD${1 + (i % PEOPLE)}`]);
    } else if (kind === 'update') {
      for (let i = 0; i < PER_WRITER; i++) await c.query(`UPDATE people SET data = data || jsonb_build_object('n', $1::int) WHERE id = $2`, [i + 1, `LOAD${1 + (i % PEOPLE)}`]);
    } else {
      // Five rows per transaction, with a pause after its first write: later writers
      // commit meanwhile, so these commit out of the order of their first writes.
      for (let i = 0; i < PER_WRITER / 5; i++) {
        await c.query('BEGIN');
        for (let j = 0; j < 5; j++) {
          await c.query(`INSERT INTO institutions (id, data) VALUES ($1, '{}')`, [`load-${i}-${j}`]);
          if (j === 0 && i % 10 === 0) await sleep(3);
        }
        await c.query('COMMIT');
      }
    }
  } finally {
    await c.end();
  }
}

/** Four requests in flight, as a busy HMIS node would send. */
async function apiWriter(): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = next++; i < API_WRITES; i = next++) {
      const r = await call(s.base, 'POST', `/domiciliary-units/load-du-${i}`, { as: ROOT, body: { n: i } });
      assert.is(r.status, 201);
    }
  }));
}

async function pager(since: number, done: () => boolean): Promise<number[]> {
  const seen: number[] = [];
  let cursor = since;
  for (;;) {
    const r = await call(s.base, 'GET', `/changes?since=${cursor}&limit=500`, { as: ROOT });
    assert.is(r.status, 200);
    for (const c of r.json.results) seen.push(c.seq);
    cursor = r.json.last_seq;
    if (seen.length >= TOTAL && done()) return seen;
    if (!r.json.results.length) await sleep(20);
  }
}

async function longpoller(since: number): Promise<number[]> {
  const seen: number[] = [];
  let cursor = since;
  while (seen.length < TOTAL) {
    const r = await call(s.base, 'GET', `/changes?feed=longpoll&since=${cursor}&timeout=5000`, { as: ROOT });
    assert.is(r.status, 200);
    for (const c of r.json.results) seen.push(c.seq);
    cursor = r.json.last_seq;
  }
  return seen;
}

async function streamer(since: number): Promise<{ seqs: number[]; reconnectedAt: number }> {
  const path = `/changes?feed=eventsource&since=${since}`;
  let first: SseClient = await openSse(s.base, path, { as: ROOT });
  await first.until('half of the changes', (e) => e.length >= TOTAL / 2, 60_000);
  first.close();
  const before = changesOf(first.events).map((c) => c.seq);
  const resumeAt = first.lastId()!;
  const second = await openSse(s.base, path, { as: ROOT, lastEventId: resumeAt });
  const needed = TOTAL - before.filter((x) => x <= Number(resumeAt)).length;
  await second.until('the rest', (e) => e.length >= needed, 60_000);
  second.close();
  first = second;
  return { seqs: [...before.filter((x) => x <= Number(resumeAt)), ...changesOf(second.events).map((c) => c.seq)], reconnectedAt: Number(resumeAt) };
}

t('10,000 writes from 4 writers: a pager, a longpoller and an SSE stream that reconnects midway each see every change once, in order', async () => {
  const start = (await call(s.base, 'GET', '/changes?since=now', { as: ROOT })).json.last_seq as number;
  let writing = true;
  const began = Date.now();
  const followers = [pager(start, () => !writing), longpoller(start), streamer(start)] as const;
  const writers = Promise.all([sqlWriter('insert'), sqlWriter('update'), sqlWriter('tx'), apiWriter()]);
  await writers;
  writing = false;
  const wrote = Date.now();
  const [paged, polled, streamed] = await Promise.all(followers);
  const caught = Date.now();
  const { rows } = await s.db.pool.query<{ seq: string }>('SELECT seq FROM changes WHERE seq > $1 ORDER BY seq', [start]);
  const expected = rows.map((r) => Number(r.seq));
  assert.is(expected.length, TOTAL, 'one change row per write');
  assert.equal(paged, expected, 'normal paging');
  assert.equal(polled, expected, 'longpoll');
  assert.equal(streamed.seqs, expected, 'SSE with a reconnect');
  const { rows: gaps } = await s.db.pool.query<{ n: string }>('SELECT max(seq) - min(seq) + 1 - count(*) AS n FROM changes WHERE seq > $1', [start]);
  process.stdout.write(`  [changes] ${TOTAL} writes by 4 writers in ${wrote - began} ms (${Math.round(TOTAL / ((wrote - began) / 1000))}/s); `
    + `3 followers each saw all ${TOTAL} once, in order, ${caught - wrote} ms after the last write; SSE reconnected at seq ${streamed.reconnectedAt}; ${gaps[0]!.n} seq gaps (rolled back)\n`);
});

t.run();
