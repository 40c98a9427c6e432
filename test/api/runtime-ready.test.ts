// /readyz reports the workers' own pools (finding 6 of issue 9): when every connection
// of a worker's pool is taken (here by writes waiting on a row lock), that worker cannot
// serve, and /readyz says so within its bound; once the pools free up it is ready again.
// A separate connection of the primary, as before, would have answered ready throughout.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { request, Agent } from 'undici';
import { migrate } from '../../lib/db/migrate.js';
import { createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { ANA, CAMERON, basic } from '../helpers/http.js';
import { startCluster, adminGet, sleep, type ClusterProcess } from '../helpers/cluster.js';

const t = suite('runtime: /readyz asks the workers\' pools');
let db: TestDatabase;
let c: ClusterProcess | undefined;
t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  c = await startCluster({ DATABASE_URL: db.url, THALAMUS_POOL_SIZE: '2' });
});
t.after(async () => {
  await c?.stop(2000);
  await db.drop();
});

t('workers whose pools are exhausted make /readyz 503 within its bound; 200 again once they are free', async () => {
  const cluster = c!;
  assert.equal(await adminGet(cluster, '/readyz'), { status: 200, text: '{"status":"ready","warnings":["administrator ARGBUE111FAV still has a password of the demo federation: change it (thalamus user passwd ARGBUE111FAV)"]}' });
  // Both workers verify Cameron's password before the test (the first login upgrades the hash).
  for (let i = 0; i < 4; i++) {
    const res = await request(`${cluster.base}/login`, { headers: { authorization: basic(CAMERON), connection: 'close' } });
    await res.body.dump();
    assert.is(res.statusCode, 200);
  }
  const locker = new pg.Client({ connectionString: db.url });
  locker.on('error', () => undefined);
  await locker.connect();
  const dispatcher = new Agent({ connections: 12 });
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM people WHERE id = $1 FOR UPDATE', [ANA.user]);
    // Writes to the locked row: each holds a pool connection until the lock goes.
    const writes = Array.from({ length: 10 }, (_, i) => request(`${cluster.base}/people/${ANA.user}`, {
      method: 'PATCH', headers: { authorization: basic(CAMERON) }, body: JSON.stringify({ profession: `teacher ${i}` }), dispatcher,
    }).then(async (res) => { await res.body.dump(); return res.statusCode; }));
    // Not on the locker: inside its transaction pg_stat_activity would not change.
    const waiting = async () => Number((await db.pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n);
    // A loaded CI machine has taken over 3 s to bring the fourth write to the lock.
    for (let i = 0; i < 150 && (await waiting()) < 4; i++) await sleep(100);
    const sessions = async () => (await db.pool.query(`SELECT pid, state, wait_event_type, wait_event, left(query, 60) AS query FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid`)).rows;
    assert.is(await waiting(), 4, `both pools are taken by writes waiting on the lock: ${JSON.stringify(await sessions())}`);
    const start = Date.now();
    const busy = await adminGet(cluster, '/readyz');
    const took = Date.now() - start;
    process.stdout.write(`  [readyz] pools exhausted: ${busy.status} after ${took} ms: ${busy.text}\n`);
    assert.is(busy.status, 503);
    assert.match(busy.text, /^\{"status":"unavailable","reason":"the database did not answer within 1000 ms \([12] of 2 workers: \d+(, \d+)?\)"\}$/);
    assert.ok(took < 2000, `answered in ${took} ms`);
    await locker.query('COMMIT');
    assert.equal(await Promise.all(writes), Array(10).fill(200));
    assert.equal(await adminGet(cluster, '/readyz'), { status: 200, text: '{"status":"ready","warnings":["administrator ARGBUE111FAV still has a password of the demo federation: change it (thalamus user passwd ARGBUE111FAV)"]}' });
  } finally {
    await locker.end().catch(() => undefined);
    await dispatcher.close();
  }
});
t.run();
