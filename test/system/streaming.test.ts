// test: alone (it measures a worker's RSS)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startServer, createDatabase, type TestServer, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { spawnServer, rssOf, highestRss, type ServerProcess } from '../helpers/process.js';
import { agent, basic, call, HASH_PATTERN, ROOT } from '../helpers/http.js';
import { migrate } from '../../lib/db/migrate.js';
import sql, { raw } from 'sql-template-tag';
import { streamRows } from '../../lib/http/stream.js';
import pg from 'pg';
import { fromPgError } from '../../lib/http/errors.js';
import { generatePeople } from '../../bench/generate.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connections checked out of `pool` (in use or waited for). */
function busy(pool: { totalCount: number; idleCount: number; waitingCount: number }): number {
  return pool.totalCount - pool.idleCount + pool.waitingCount;
}

/** Polls until `pool` has nothing checked out; returns how long it took, or fails after `ms`. */
async function settles(pool: Parameters<typeof busy>[0], ms: number): Promise<number> {
  const start = Date.now();
  while (busy(pool) !== 0) {
    if (Date.now() - start > ms) assert.unreachable(`${busy(pool)} connection(s) still checked out after ${ms} ms`);
    await sleep(10);
  }
  return Date.now() - start;
}

/** Starts GET `path`, reads the first chunk, then pauses; returns the request to destroy. */
function openAndPause(base: string, path: string): Promise<{ req: http.ClientRequest; status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { headers: { authorization: basic(ROOT) } }, (res) => {
      res.once('data', () => { res.pause(); resolve({ req, status: res.statusCode ?? 0 }); });
    });
    req.on('error', (err) => { if (!req.destroyed) reject(err); });
  });
}

const big = suite('streaming: 200,000 people through a worker process');
let db: TestDatabase;
let proc: ServerProcess | undefined;
big.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  await generatePeople(db.pool, 200_000);
  proc = await spawnServer(db.url);
});
big.after(async () => {
  await proc?.stop();
  await db.drop();
});

big('the worker streams every row while its RSS grows by less than 64 MB', async () => {
  const warm = await call(proc!.base, 'GET', '/people?limit=1000', { as: ROOT });
  assert.is(warm.status, 200);
  const before = rssOf(proc!.pid);
  const chunks: Buffer[] = [];
  let received = 0;
  const { peak } = await highestRss(proc!.pid, async () => {
    const res = await request(`${proc!.base}/people`, { headers: { authorization: basic(ROOT) }, dispatcher: agent });
    assert.is(res.statusCode, 200);
    assert.is(res.headers['content-type'], 'application/json; charset=utf-8');
    for await (const chunk of res.body) {
      chunks.push(chunk as Buffer);
      received += (chunk as Buffer).length;
      // A slow reader now and then, so the worker has to wait for 'drain'.
      if (chunks.length % 200 === 0) await sleep(20);
    }
  }, 20);
  const text = Buffer.concat(chunks).toString('utf8');
  assert.not.match(text, HASH_PATTERN);
  const people = (JSON.parse(text) as Array<[{ id: string }]>).map(([p]) => p);
  assert.is(people.length, 200_003);
  assert.is(new Set(people.map((p) => p.id)).size, 200_003);
  const growth = peak - before;
  assert.ok(received > 30e6, `${received} bytes received`);
  assert.ok(growth < 64 * 2 ** 20, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MB`);
});
big.run();

const cut = suite('streaming: a client that leaves mid-stream');
let s: TestServer;
cut.before(async () => {
  s = await startServer();
  await generatePeople(s.db.pool, 100_000);
});
cut.after(async () => { await s.close(); });

cut('while the worker waits for drain: the cursor closes and the connection is back at once', async () => {
  const pool = s.worker.services.pool;
  const { req, status } = await openAndPause(s.base, '/people');
  assert.is(status, 200);
  await sleep(300); // socket buffers fill; the stream now waits for 'drain'
  // The listing's connection (the audit log may be flushing on another).
  assert.ok(busy(pool) >= 1, 'the listing holds a connection while the client is slow');
  req.destroy();
  await settles(pool, 1000);
  assert.is(pool.idleCount, pool.totalCount);
  // The returned connection is clean: the next listing and request work.
  const r = await call(s.base, 'GET', '/people?limit=2', { as: ROOT });
  assert.is(r.status, 200);
  assert.is(r.json.length, 2);
});

cut('while a cursor read is in flight: the connection is released without waiting for the read', async () => {
  const pool = s.worker.services.pool;
  // A listing whose first batch takes 2.5 s in PostgreSQL.
  const server = http.createServer((_req, res) => {
    streamRows(res, { pool, sql: sql`SELECT g AS id, g::text AS j FROM generate_series(1, 10) g, LATERAL (SELECT pg_sleep(0.5)) z` }, { batch: 5 })
      .catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    const req = http.get(`http://127.0.0.1:${port}/`);
    req.on('error', () => undefined);
    await sleep(300);
    // At least the listing's connection (the audit log may be flushing on another).
    assert.ok(busy(pool) >= 1, 'the read is in flight');
    req.destroy();
    const took = await settles(pool, 1000);
    assert.ok(took < 1000, `released after ${took} ms`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

cut('a read that fails mid-stream aborts the response and returns the connection', async () => {
  const pool = s.worker.services.pool;
  const server = http.createServer((_req, res) => {
    // In id order from the index, so the failing rows are reached only after many batches were sent.
    const text = `SELECT id, CASE WHEN id > 'GEN000000600' THEN (1 / (length(id) - length(id)))::text ELSE '"' || repeat('x', 10000) || '"' END AS j FROM people`;
    streamRows(res, { pool, sql: raw(text) }, { batch: 500 }).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (server.address() as AddressInfo).port;
    const outcome = await new Promise<{ status: number; complete: boolean }>((resolve) => {
      const req = http.get(`http://127.0.0.1:${port}/`, (res) => {
        res.pause();
        setTimeout(() => res.resume(), 200); // the worker waits for 'drain' while the failing read returns
        res.on('error', () => undefined);
        res.on('close', () => resolve({ status: res.statusCode ?? 0, complete: res.complete }));
      });
      req.on('error', () => resolve({ status: 0, complete: false }));
    });
    assert.equal(outcome, { status: 200, complete: false });
    await settles(pool, 1000);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

cut('a listing over its statement timeout is a 503 QUERY_TIMEOUT and returns its connection', async () => {
  const pool = s.worker.services.pool;
  const server = http.createServer((_req, res) => {
    streamRows(res, { pool, sql: sql`SELECT 1 AS id, pg_sleep(2)::text AS j` }, { timeout: 100 }).catch((err: { code?: string }) => {
      res.statusCode = err.code === '57014' ? 503 : 500;
      res.end(String(err.code));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const r = await call(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'GET', '/', { openapi: false });
    assert.is(r.status, 503);
    assert.is(r.text, '57014');
    await settles(pool, 1000);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

cut('the app maps a statement timeout (57014) to 503 QUERY_TIMEOUT', () => {
  const err = fromPgError(Object.assign(new pg.DatabaseError('canceling statement due to statement timeout', 0, 'error'), { code: '57014' }));
  assert.is(err?.status, 503);
  assert.is(err?.code, 'QUERY_TIMEOUT');
  assert.equal(err?.headers, { 'Retry-After': '5' });
});

cut('a book: 404 for an unknown person (GET and HEAD), [] for a person without pages, the pool left idle', async () => {
  const pool = s.worker.services.pool;
  const unknown = await call(s.base, 'GET', '/pols/NOBODY000000', { as: ROOT });
  assert.is(unknown.status, 404);
  assert.equal(unknown.json, { error: 'Person not found', code: 'NOT_FOUND' });
  assert.is((await call(s.base, 'HEAD', '/pols/NOBODY000000', { as: ROOT })).status, 404);
  const empty = await call(s.base, 'GET', '/pols/GEN000000007', { as: ROOT });
  assert.is(empty.status, 200);
  assert.equal(empty.json, []);
  const page = await call(s.base, 'GET', '/pols/NOBODY000000?limit=5', { as: ROOT });
  assert.is(page.status, 404);
  const ana = await call(s.base, 'GET', '/pols/ESPGNU777ORG', { as: ROOT });
  assert.is(ana.status, 200);
  assert.is(ana.json.length, 2);
  await settles(pool, 1000);
});

cut('a full listing after the disconnects is complete and well formed', async () => {
  const r = await call(s.base, 'GET', '/domiciliary-units', { as: ROOT });
  assert.is(r.status, 200);
  assert.ok(Array.isArray(r.json));
  const p = await call(s.base, 'GET', '/people?limit=1000', { as: ROOT });
  assert.is(p.json.length, 1000);
  assert.match(String(p.headers.link), /^<\/people\?limit=1000&after=[A-Z0-9]+>; rel="next"$/);
});
cut.run();
