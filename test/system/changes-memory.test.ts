// test: alone (it measures a worker's RSS)
// Issue 20, finding 2: `include_docs` turned one page into a gigabyte. Every change
// carried its own copy of the record's current document and `limit` counted rows, so an
// end user who PATCHed their own big page many times and read
// `/changes?include_docs=true&limit=1000` made a worker hold hundreds of copies of it.
// Pages of the feed are now bounded by bytes (CHANGES_PAGE_BYTES) as well as rows and
// written as their documents are read: the attack, eight in parallel, against a worker
// process whose RSS is sampled, stays within the bound docs/relay.md states; the pages
// still carry every change once, in order (normal feed, SSE catch-up, longpoll, a
// subscription's batch).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'undici';
import { migrate } from '../../lib/db/migrate.js';
import { loadConfig } from '../../lib/config.js';
import { hashPassword } from '../../lib/auth/passwords.js';
import { createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { spawnServer, highestRss, type ServerProcess } from '../helpers/process.js';
import { agent, basic, call, type Account } from '../helpers/http.js';
import { openSse, changesOf } from '../helpers/sse.js';
import { readPage } from '../../lib/changes/reader.js';
import { pageJson } from '../../lib/changes/format.js';
import type { Filter } from '../../lib/changes/scope.js';

const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The attacker's page: 200 KiB of text (the tester used 300 KiB), changed 150 times (the tester: 1,000). */
const PAGE_CHARS = 200 * 1024;
const PATCHES = 150;
const PARALLEL = 8;
const USER: Account = { user: 'MEMATTACK01', password: 'attacker-password' };
const PAGE = 'mem-attack-page';

const t = suite('changes: include_docs pages bounded by bytes');
let db: TestDatabase;
let proc: ServerProcess | undefined;

t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  await db.pool.query(`INSERT INTO people (id, data) VALUES ($1::varchar, jsonb_build_object('id', $1::varchar, 'name', 'Mem', 'active', true,
    'roles', '["end_user"]'::jsonb, 'password', $2::text))`, [USER.user, await hashPassword(USER.password)]);
  proc = await spawnServer(db.url);
  // The attack as the tester ran it: an end user writes their own big page, then PATCHes it.
  assert.is((await call(proc.base, 'POST', `/pols/${USER.user}/${PAGE}`, { as: USER, body: { summary: 'big', info: 'x'.repeat(PAGE_CHARS) } })).status, 201);
  for (let i = 0; i < PATCHES; i++) assert.is((await call(proc.base, 'PATCH', `/pols/${USER.user}/${PAGE}`, { as: USER, body: { n: i } })).status, 200);
});
t.after(async () => {
  await proc?.stop();
  await db.drop();
});

interface Page { results: Array<{ seq: number; id: string; doc?: { n?: number; info?: string } | null }>; last_seq: number }

/** GET as the attacker, the body counted and parsed here (not through call(): its size is the point). */
async function read(path: string): Promise<{ status: number; bytes: number; page: Page }> {
  const res = await request(proc!.base + path, { headers: { authorization: basic(USER) }, dispatcher: agent });
  const text = await res.body.text();
  return { status: res.statusCode, bytes: Buffer.byteLength(text), page: JSON.parse(text) };
}

t(`the attack: ${PARALLEL} parallel reads of /changes?include_docs=true&limit=1000 keep the worker within the bound of docs/relay.md`, async () => {
  const config = loadConfig(undefined, {});
  const largest = PAGE_CHARS + 1024;
  // Warm up: the code paths and the credential cache, then the worker's RSS at rest.
  assert.is((await read('/changes?include_docs=true&limit=2')).status, 200);
  await sleep(500);
  const before = (await highestRss(proc!.pid, () => sleep(300))).peak;
  const { result, peak } = await highestRss(proc!.pid, () => Promise.all(Array.from({ length: PARALLEL }, () => read('/changes?include_docs=true&limit=1000'))));
  const growth = peak - before;
  // docs/relay.md: each include_docs page being written holds at most one group of
  // documents (CHANGES_PAGE_BYTES / 4 plus one document) read and one written, each
  // counted three times (the strings, the socket's copy, garbage not yet collected).
  const group = config.changesPageBytes / 4 + largest;
  const bound = PARALLEL * 2 * 3 * group;
  const sizes = result.map((r) => r.bytes);
  process.stdout.write(`  [memory] ${PARALLEL} parallel include_docs reads of ${PATCHES + 1} changes of one ${PAGE_CHARS / 1024} KiB page: answers of ${(Math.max(...sizes) / MiB).toFixed(1)} MiB `
    + `(${result[0]!.page.results.length} changes each); worker RSS ${(before / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB, growth ${(growth / MiB).toFixed(1)} MiB (bound ${(bound / MiB).toFixed(1)} MiB)\n`);
  for (const r of result) {
    assert.is(r.status, 200);
    assert.ok(r.bytes <= config.changesPageBytes + largest, `an answer of ${r.bytes} bytes (CHANGES_PAGE_BYTES ${config.changesPageBytes})`);
  }
  assert.ok(growth <= bound, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
});

t('reading on from last_seq gives every change once, in order, each with its document; no page is larger than the bound', async () => {
  const config = loadConfig(undefined, {});
  const seen: number[] = [];
  let since = 0;
  let pages = 0;
  for (;;) {
    const { status, bytes, page } = await read(`/changes?include_docs=true&since=${since}`);
    assert.is(status, 200);
    assert.ok(bytes <= config.changesPageBytes + PAGE_CHARS + 1024, `a page of ${bytes} bytes`);
    pages++;
    for (const c of page.results) {
      seen.push(c.seq);
      if (c.id === PAGE) assert.equal([c.doc!.n, c.doc!.info!.length], [PATCHES - 1, PAGE_CHARS], 'the current document');
    }
    if (page.last_seq === since) break;
    since = page.last_seq;
  }
  const { rows } = await db.pool.query<{ seq: string }>(`SELECT seq FROM changes WHERE person = $1 ORDER BY seq`, [USER.user]);
  process.stdout.write(`  [memory] ${seen.length} changes in ${pages} pages of at most ${(config.changesPageBytes / MiB).toFixed(0)} MiB\n`);
  assert.equal(seen, rows.map((r) => Number(r.seq)));
});

t('SSE catch-up and longpoll with include_docs: every change once, in order, pages bounded the same way', async () => {
  const { rows } = await db.pool.query<{ seq: string }>(`SELECT seq FROM changes WHERE person = $1 ORDER BY seq`, [USER.user]);
  const sse = await openSse(proc!.base, '/changes?feed=eventsource&include_docs=true&since=0', { as: USER, openapi: false });
  try {
    // Counted without parsing: changesOf() on every chunk would parse every 200 KiB event again each time.
    await sse.until('every change', (e) => e.filter((x) => x.event === undefined).length === rows.length, 30_000);
    assert.equal(changesOf(sse.events).map((c) => c.seq), rows.map((r) => Number(r.seq)), 'each once, in order');
    const pages = changesOf(sse.events).filter((c) => c.id === PAGE);
    assert.is(pages.length, PATCHES + 1);
    assert.ok(pages.every((c) => (c.doc as { info: string }).info.length === PAGE_CHARS));
  } finally {
    sse.close();
  }
  const config = loadConfig(undefined, {});
  const { status, bytes, page } = await read('/changes?feed=longpoll&include_docs=true&since=0');
  assert.is(status, 200);
  assert.ok(bytes <= config.changesPageBytes + PAGE_CHARS + 1024 && page.results.length >= 1, `a longpoll page of ${bytes} bytes`);
});

t('a subscription\'s batch (the deliverer\'s readPage with documents) is bounded the same way and resumes after its last change', async () => {
  const filter: Filter = { scope: { self: USER.user, all: [], own: ['people', 'pols', 'documents'] } };
  const seen: number[] = [];
  let since = 0;
  for (;;) {
    const page = await readPage(db.pool, filter, since, 100, true, MiB);
    const body = pageJson(page);
    assert.ok(Buffer.byteLength(body) <= MiB + PAGE_CHARS + 1024, `a batch of ${Buffer.byteLength(body)} bytes`);
    assert.ok(page.rows.every((r) => page.docs!.has(r.seq)), 'each change carries its document');
    seen.push(...page.rows.map((r) => r.seq));
    if (page.lastSeq === since) break;
    since = page.lastSeq;
  }
  const { rows } = await db.pool.query<{ seq: string }>(`SELECT seq FROM changes WHERE person = $1 ORDER BY seq`, [USER.user]);
  assert.equal(seen, rows.map((r) => Number(r.seq)));
});

t.run();
