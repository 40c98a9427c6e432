// Finding 14 of issue 9: PostgreSQL ending connections (a restart, a failover,
// pg_terminate_backend, a server-side timeout) must not end a worker. Every backend of
// the pool is terminated while listings stream and writes run: no worker exits, the
// requests that were using a terminated connection end cleanly (503 with Retry-After
// before the headers, a cut stream after), and the next requests succeed. The clients
// checked out by inTransaction and by the migration lock are covered in-process.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, Agent } from 'undici';
import type pg from 'pg';
import { migrate } from '../../lib/db/migrate.js';
import { createPool, inTransaction } from '../../lib/db/pool.js';
import { generatePeople } from '../../bench/generate.js';
import { adminQuery, createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { ANA, CAMERON, ROOT, basic, type Account } from '../helpers/http.js';
import { startCluster, adminGet, metric, childPids, waitFor, sleep, type ClusterProcess } from '../helpers/cluster.js';

const PEOPLE = 30_000 + 3;

/** Ends every backend connected to `database` (and only those: the server is shared). */
async function terminateBackends(database: string): Promise<number> {
  const { rows } = await adminQuery(
    `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) t`, [database]);
  return rows[0].n;
}

type ListingEnd = 'complete' | 'cut' | '503' | `other ${string}`;

const t = suite('runtime: PostgreSQL ends every backend while listings stream and writes run');
let db: TestDatabase;
let c: ClusterProcess | undefined;
t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  await generatePeople(db.pool, PEOPLE - 3);
  c = await startCluster({ DATABASE_URL: db.url });
});
t.after(async () => {
  await c?.stop(2000);
  await db.drop();
});

t('no worker exits; requests end with 200/201, a 503 with Retry-After or a cut stream; the next ones succeed', async () => {
  const cluster = c!;
  const workers = childPids(cluster.pid);
  const dispatcher = new Agent({ connections: 16, keepAliveTimeout: 10_000 });
  let running = true;
  const listings: ListingEnd[] = [];
  const writes: { status: number; retryAfter?: string; code?: string }[] = [];
  const headersSeen = { n: 0 };
  // A reader that takes a few seconds per listing, so listings hold their connections.
  const listingLoop = async () => {
    while (running) {
      try {
        const res = await request(`${cluster.base}/people`, { headers: { authorization: basic(ROOT) }, dispatcher });
        if (res.statusCode !== 200) {
          const body = await res.body.json() as { code?: string };
          listings.push(res.statusCode === 503 && res.headers['retry-after'] && body.code ? '503' : `other ${res.statusCode}`);
          continue;
        }
        headersSeen.n++;
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const chunk of res.body) {
          chunks.push(chunk as Buffer);
          if (++n % 20 === 0) await sleep(5);
        }
        const people = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[];
        listings.push(people.length === PEOPLE ? 'complete' : `other length ${people.length}`);
      } catch {
        listings.push('cut');
      }
    }
  };
  let page = 0;
  const writeLoop = async (as: Account, make: () => { method: 'POST' | 'PATCH'; path: string; body: unknown }) => {
    while (running) {
      const { method, path, body } = make();
      try {
        const res = await request(cluster.base + path, { method, headers: { authorization: basic(as) }, body: JSON.stringify(body), dispatcher });
        const json = await res.body.json() as { code?: string };
        writes.push({ status: res.statusCode, retryAfter: res.headers['retry-after'] as string | undefined, code: json.code });
      } catch {
        writes.push({ status: 0 });
      }
    }
  };
  const loops = [
    listingLoop(), listingLoop(), listingLoop(),
    writeLoop(ANA, () => ({ method: 'POST', path: `/pols/${ANA.user}/pgterm-${++page}`, body: { page_type: 'medical', summary: 'during termination' } })),
    writeLoop(CAMERON, () => ({ method: 'PATCH', path: `/people/${ANA.user}`, body: { profession: `teacher ${page}` } })),
  ];
  await waitFor('listings streaming and writes succeeding', () => headersSeen.n >= 3 && writes.filter((w) => w.status === 201).length >= 5);
  const terminated = [await terminateBackends(db.name)];
  await sleep(700);
  terminated.push(await terminateBackends(db.name));
  await sleep(1500);
  running = false;
  await Promise.all(loops);
  await dispatcher.close();

  const count = (xs: string[]) => xs.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x]: (acc[x] ?? 0) + 1 }), {});
  const writeEnds = writes.map((w) => String(w.status));
  process.stdout.write(`  [pgterminate] backends terminated: ${terminated.join(' then ')}; listings ${JSON.stringify(count(listings))}; writes ${JSON.stringify(count(writeEnds))}; workers alive ${childPids(cluster.pid).length} of ${workers.length}, restarts ${await metric(cluster, 'thalamus_worker_restarts_total')}\n`);
  assert.ok(terminated[0]! > 0, 'backends were terminated');
  assert.equal(childPids(cluster.pid), workers, 'no worker exited');
  assert.is(await metric(cluster, 'thalamus_worker_restarts_total'), 0);
  assert.not.match(cluster.output(), /Unhandled 'error' event/);
  assert.ok(listings.every((l) => l === 'complete' || l === 'cut' || l === '503'), JSON.stringify(count(listings)));
  assert.ok(listings.some((l) => l !== 'complete'), 'a listing was hit by the termination');
  for (const w of writes) {
    assert.ok([200, 201, 503].includes(w.status), `a write ended with ${w.status}`);
    if (w.status === 503) { assert.is(w.retryAfter, '5'); assert.is(w.code, 'DATABASE_UNAVAILABLE'); }
  }
  // The next requests succeed, on fresh connections.
  const res = await request(`${cluster.base}/people`, { headers: { authorization: basic(ROOT) } });
  assert.is(res.statusCode, 200);
  assert.is((await res.body.json() as unknown[]).length, PEOPLE);
  const post = await request(`${cluster.base}/pols/${ANA.user}/pgterm-after`, { method: 'POST', headers: { authorization: basic(ANA) }, body: '{"summary": "after"}' });
  await post.body.dump();
  assert.is(post.statusCode, 201);
  assert.is((await adminGet(cluster, '/readyz')).status, 200);
});
t.run();

const held = suite('runtime: a backend ended while its client is checked out');
let hdb: TestDatabase;
let pool: pg.Pool;
let dir: string;
held.before(async () => {
  hdb = await createDatabase();
  pool = createPool({ url: hdb.url, size: 2 });
  dir = mkdtempSync(join(tmpdir(), 'thalamus-pgterm-'));
});
held.after(async () => {
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
  await hdb.drop();
});

held('inTransaction: the transaction fails, the broken client is discarded, the pool goes on', async () => {
  const err = await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_terminate_backend(pg_backend_pid())');
  }).then(() => undefined, (e: Error) => e);
  assert.ok(err, 'inTransaction rejected');
  assert.match(err!.message, /terminating connection|Connection terminated/);
  await waitFor('the broken client to go', () => pool.totalCount === 0, 2000);
  assert.equal((await pool.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
});

held('migrate: a migration whose backend is ended fails with its name; the lock went with the session, so the next run applies', async () => {
  writeFileSync(join(dir, '001_kill.sql'), 'SELECT pg_terminate_backend(pg_backend_pid());\n');
  const err = await migrate(pool, dir).then(() => undefined, (e: Error) => e);
  assert.match(String(err?.message), /^migration 001_kill\.sql failed: /);
  rmSync(join(dir, '001_kill.sql'));
  writeFileSync(join(dir, '002_table.sql'), 'CREATE TABLE IF NOT EXISTS pgterm_ok (id int);\n');
  assert.equal(await migrate(pool, dir), ['002_table.sql']);
});
held.run();
