// test: alone (it bounds how soon sessions are given back)
// Issue 20, findings 1 and 4: clients that leave at any moment. Hundreds of listings
// reset at random moments (during authentication, the first statement, a cursor's
// opening, any batch), stalled readers of big pages closed at once, and uploads and
// large bodies whose connection closes while their password is checked: afterwards no
// PostgreSQL session is left working for them, every listing, upload and large write
// of another user answers at once, and no worker has exited.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { createDatabase, startServer, type TestDatabase, type TestServer, loadTestDemo } from '../helpers/server.js';
import { migrate } from '../../lib/db/migrate.js';
import { hashPassword } from '../../lib/auth/passwords.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { ANA, CAMERON, ROOT, basic, call, listedOf, type Account } from '../helpers/http.js';
import { stalledReader } from '../helpers/stall.js';
import { addPages, addReaders, readerAccounts } from '../helpers/books.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const BOOK = 'ABORTBOOK001';
const READERS = readerAccounts(4);
/** Within this many ms of the last client leaving, nothing it started may still hold a session or a turn. */
const RELEASE_BOUND_MS = 3000;

/** Sends `GET path` (or any request head and body) on a raw socket and resets the connection after `afterMs`. */
function resetAfter(base: string, head: string, afterMs: number, body?: Buffer): Promise<void> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(head);
      if (body) socket.write(body);
      setTimeout(() => { socket.resetAndDestroy(); resolve(); }, afterMs);
    });
    socket.on('error', () => resolve());
  });
}

function getHead(base: string, path: string, as: Account): string {
  const { host } = new URL(base);
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${basic(as)}\r\n\r\n`;
}

/** Sessions of the test database other than idle ones (the change hub's LISTEN connection idles). */
async function busySessions(db: TestDatabase): Promise<{ state: string; query: string }[]> {
  const r = await db.pool.query(`SELECT state, left(query, 80) AS query FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'`);
  return r.rows;
}

async function restarts(server: ServerProcess): Promise<number> {
  const res = await request(`${server.admin}/metrics`);
  const text = await res.body.text();
  return Number(/^thalamus_worker_restarts_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Waits until no session of the database is busy, within the bound; returns what was left at the end. */
async function settled(db: TestDatabase): Promise<{ left: { state: string; query: string }[]; ms: number }> {
  const start = Date.now();
  for (;;) {
    const left = await busySessions(db);
    if (left.length === 0 || Date.now() - start > RELEASE_BOUND_MS) return { left, ms: Date.now() - start };
    await sleep(50);
  }
}

/** Every listing of users who took no part, each twice and all at once (more in parallel than the listings' share of the pool): the statuses that were not 200, and the time. */
async function otherListings(base: string): Promise<{ refused: string[]; ms: number }> {
  const listings: [Account, string][] = [
    [CAMERON, '/people'], [CAMERON, '/people?limit=2'], [CAMERON, `/pols/${CAMERON.user}`], [CAMERON, `/pols/${ANA.user}?limit=1`],
    [CAMERON, `/personal_docs/${ANA.user}`], [CAMERON, `/personal_docs/${ANA.user}/${BIRTH}`], [CAMERON, '/domiciliary-units'],
    [CAMERON, '/institutions'], [ROOT, '/audit?limit=5'], [ROOT, '/people'],
  ];
  const start = Date.now();
  const answers = await Promise.all([...listings, ...listings].map(async ([as, path]) => ({ path, status: await call(base, 'GET', path, { as }).then((r) => r.status, () => 0) })));
  return { refused: answers.filter((a) => a.status !== 200).map((a) => `${a.path} ${a.status}`), ms: Date.now() - start };
}

let db: TestDatabase;
let server: ServerProcess;

async function boot(): Promise<void> {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  await addPages(db.pool, BOOK, 200, 100_000);
  await addReaders(db.pool, READERS);
  server = await spawnServer(db.url, { THALAMUS_LISTING_IDLE_TIMEOUT: '20000' });
  for (const a of [ANA, CAMERON, ROOT, ...READERS]) assert.is((await call(server.base, 'GET', '/login', { as: a })).status, 200);
}

async function shutDown(): Promise<void> {
  await server?.stop();
  await db?.drop();
}

const t = suite('aborts: listings whose clients leave at any moment');
t.before(boot);
t.after(shutDown);

t('300 listings reset at random moments, stalled readers closed: no session left, every other listing 200 at once, no worker exit', async () => {
  const pid = server.pid;
  const ownListings = [`/pols/${ANA.user}?limit=3`, `/pols/${ANA.user}`, `/personal_docs/${ANA.user}`, `/personal_docs/${ANA.user}/${BIRTH}`, `/people/${ANA.user}`];
  const bigListings = [`/pols/${BOOK}`, `/pols/${BOOK}?limit=50`, '/people', '/people?limit=3'];
  for (let wave = 0; wave < 6; wave++) {
    // A new hash of the same password: the first requests of the wave take the full path
    // (the password checked again), so some are reset while it is being checked.
    await db.pool.query(`UPDATE people SET data = data || jsonb_build_object('password', $2::text) WHERE id = $1`, [ANA.user, await hashPassword(ANA.password)]);
    const resets = Array.from({ length: 50 }, (_, i) => {
      const [as, path] = i % 2 === 0 ? [ANA, ownListings[i % ownListings.length]!] : [READERS[i % READERS.length]!, bigListings[i % bigListings.length]!];
      return resetAfter(server.base, getHead(server.base, path, as), Math.floor(Math.random() * 40));
    });
    await Promise.all(resets);
  }
  // The slow-reader scenario: forty readers of 100 kB pages that read nothing, closed together.
  const stalled = await Promise.all(Array.from({ length: 40 }, (_, i) => stalledReader(server.base, `/pols/${BOOK}`, { authorization: basic(READERS[i % READERS.length]!) })));
  await sleep(1500);
  for (const socket of stalled) socket.resetAndDestroy();

  const { left, ms } = await settled(db);
  const others = await otherListings(server.base);
  // A worker that died may not be re-forked yet (backoff): its pid tells too.
  const exits = Math.max(await restarts(server), existsProcess(pid) ? 0 : 1);
  console.log(`    aborts: ${left.length} busy sessions ${ms} ms after the last reset; other users' listings: ${20 - others.refused.length} of 20 answered 200 in ${others.ms} ms; ${exits} worker exits`);
  assert.equal(left, [], 'no session of the database is still busy');
  assert.equal(others.refused, [], 'every listing of another user answers 200');
  assert.ok(others.ms < 5000, `the listings answered in ${others.ms} ms`);
  assert.is(exits, 0, 'no worker exited');
  assert.is(server.child.exitCode, null);
});

/** A request head with Basic credentials and a body's headers; the body itself is never sent whole. */
function writeHead(base: string, method: string, path: string, as: Account, headers: Record<string, string>): string {
  const { host } = new URL(base);
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, `Authorization: ${basic(as)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

let round = 0;

/**
 * Aborted requests of `accounts`, reset while their password is being checked: each
 * account first changes its own password (as a user would), so the worker knows none of
 * the new credentials and checks them on the full path.
 */
async function abortWhileChecked(accounts: Account[], count: number, head: (as: Account, i: number) => string, body: Buffer): Promise<void> {
  const fresh = await Promise.all(accounts.map(async (as) => {
    const password = `${as.password.replace(/-r\d+$/, '')}-r${++round}`;
    const r = await call(server.base, 'PATCH', `/people/${as.user}`, { as, body: { password } });
    assert.is(r.status, 200);
    as.password = password;
    return { ...as };
  }));
  await Promise.all(fresh.flatMap((as) => Array.from({ length: count }, (_, i) => resetAfter(server.base, head(as, i), 1 + (i % 8) * 3, body))));
}

const UPLOADER = { user: 'ABORTUSER001', password: 'aborting-user-1' };
const CAMERON_PAGE = 'abort-page-cameron';

t.run();

const u = suite('aborts: uploads and large bodies whose clients leave at any moment');
u.before(boot);
u.after(shutDown);

u('uploads and large bodies whose clients leave while the password is checked give back their turn: others\' uploads and large writes succeed', async () => {
  await db.pool.query(`INSERT INTO people (id, data) VALUES ($1::varchar, jsonb_build_object('id', $1::varchar, 'active', true, 'roles', '["end_user"]'::jsonb, 'password', $2::text))`,
    [UPLOADER.user, await hashPassword(UPLOADER.password)]);
  assert.is((await call(server.base, 'POST', `/pols/${CAMERON.user}/${CAMERON_PAGE}`, { as: CAMERON, body: { page_type: 'medical', summary: 'page for uploads' } })).status, 201);
  await db.pool.query(`INSERT INTO pols (id, book, data) VALUES ('abort-page-1', $1::varchar, jsonb_build_object('id', 'abort-page-1', 'book', $1::varchar, 'page_type', 'medical'))`, [UPLOADER.user]);
  const attackers = [{ ...ANA }, UPLOADER];
  const pageOf = (as: Account) => (as.user === ANA.user ? BIRTH : 'abort-page-1');
  const upload = (as: Account, i: number) => writeHead(server.base, 'POST', `/personal_docs/${as.user}/${pageOf(as)}/aborted-${i}`, as,
    { 'Content-Type': 'image/jpeg', 'Content-Length': String(1024 * 1024), 'X-Document-Type': 'picture' });
  await abortWhileChecked(attackers, 12, upload, Buffer.alloc(1024, 0xff));
  const patch = (as: Account) => writeHead(server.base, 'PATCH', `/people/${as.user}`, as, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  await abortWhileChecked(attackers, 24, patch, Buffer.from('10\r\n{"stalled": "ye\r\n'));

  await sleep(300);
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200_000, 7)]);
  const uploads = await Promise.all([CAMERON, ROOT].map((as, i) => call(server.base, 'POST', `/personal_docs/${CAMERON.user}/${CAMERON_PAGE}/after-attack-${i}`,
    { as, raw: jpeg, headers: { 'content-type': 'image/jpeg', 'x-document-type': 'picture' } })));
  const large = { note: 'x'.repeat(100_000) };
  const writes = await Promise.all([CAMERON, ROOT].map((as) => call(server.base, 'PATCH', `/people/${as.user}`, { as, body: large })));
  const chunked = await call(server.base, 'PATCH', `/people/${CAMERON.user}`, { as: CAMERON, raw: Readable.from([Buffer.from('{"chunked": '), Buffer.from('"yes"}')]) });
  const { left } = await settled(db);
  console.log(`    aborts: others' uploads ${uploads.map((r) => r.status).join(', ')}; large writes ${writes.map((r) => r.status).join(', ')}; chunked ${chunked.status}; ${left.length} busy sessions`);
  assert.equal(uploads.map((r) => r.status), [201, 201], JSON.stringify(uploads.map((r) => r.json)));
  assert.equal(writes.map((r) => r.status), [200, 200]);
  assert.is(chunked.status, 200);
  assert.equal(left, []);
  const stored = await db.pool.query(`SELECT count(*)::int AS n FROM personal_docs WHERE id LIKE 'aborted-%'`);
  assert.is(stored.rows[0].n, 0, 'no aborted upload was stored');
  assert.is(await restarts(server), 0, 'no worker exited');
  assert.ok(existsProcess(server.pid), 'the worker is the one that started');
});

u.run();

const v = suite('aborts: a connection held past LISTING_TIMEOUT');
let held: TestServer;
v.before(async () => {
  // A reader whose socket stays full keeps its connection for LISTING_STALL_MS: made
  // longer than LISTING_TIMEOUT here, so only the listing's own bound can take it back.
  held = await startServer({ listingTimeout: 1500, listingStallMs: 20_000, listingIdleTimeout: 40_000 });
  await addPages(held.db.pool, BOOK, 200, 100_000);
  await addReaders(held.db.pool, READERS);
});
v.after(async () => { await held.close(); });

v('is taken back by the server (no busy session while the client still stalls), and the reader still gets the whole book', async () => {
  const socket = await stalledReader(held.base, `/pols/${BOOK}`, { authorization: basic(READERS[0]!) });
  await sleep(500);
  const during = (await busySessions(held.db)).length;
  await sleep(3000);
  const after = await busySessions(held.db);
  console.log(`    aborts: a stalled listing's sessions: ${during} at 0.5 s, ${after.length} at 3.5 s (LISTING_TIMEOUT 1.5 s, taken back 1 s later)`);
  assert.is(during, 1, 'the stalled listing holds its connection at first');
  assert.equal(after, [], 'its connection was taken back at LISTING_TIMEOUT');
  // Read until the chunked body's last chunk (the connection stays open: keep-alive).
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => { chunks.push(c); if (c.subarray(-5).toString() === '0\r\n\r\n') resolve(); });
    socket.once('close', () => resolve());
  });
  socket.resume();
  await ended;
  socket.destroy();
  const text = Buffer.concat(chunks).toString('utf8');
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  const pages = listedOf(JSON.parse(dechunk(body)));
  assert.is(pages?.length, 200, 'the whole book, continued on a new connection');
});

v.run();

/** The body of a chunked HTTP/1.1 response. */
function dechunk(raw: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = parseInt(raw.slice(at, eol), 16);
    if (!size) return out;
    out += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

function existsProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
