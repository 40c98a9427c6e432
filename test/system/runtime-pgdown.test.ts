// test: alone (it bounds how soon the cluster answers again)
// PostgreSQL going away under load: a cluster on a PostgreSQL of its own (embedded, in a
// temporary folder, on a fixed port), which the test stops and starts again. Requests
// get 503 JSON with Retry-After meanwhile, no process exits, and within 5 s of the
// database's return requests succeed again.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded, type EmbeddedDatabase } from '../../lib/db/embedded.js';
import { migrate } from '../../lib/db/migrate.js';
import { CAMERON } from '../helpers/http.js';
import { testPool, loadTestDemo } from '../helpers/server.js';
import { startCluster, startLoad, adminGet, metric, childPids, freePort, waitFor, sleep, tally, type ClusterProcess } from '../helpers/cluster.js';

const t = suite('runtime: PostgreSQL down under load');
let dir: string;
let port: number;
let pgServer: EmbeddedDatabase | undefined;
let c: ClusterProcess | undefined;
const CONCURRENCY = 4;

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thalamus-pgdown-'));
  chmodSync(dir, 0o755); // the embedded server may run as the `postgres` user
  port = await freePort();
  pgServer = await startEmbedded(dir, undefined, { port });
  const pool = testPool(pgServer.url, 1);
  await migrate(pool);
  await loadTestDemo(pool);
  await pool.end();
  c = await startCluster({ DATABASE_URL: pgServer.url });
});

t.after(async () => {
  await c?.stop(2000);
  await pgServer?.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

t('503 JSON with Retry-After while PostgreSQL is down; answers again within 5 s of its return', async () => {
  const cluster = c!;
  const workers = childPids(cluster.pid);
  const load = startLoad(cluster.base, { concurrency: CONCURRENCY, path: '/people/ESPGNU777ORG', as: CAMERON });
  await waitFor('answers before the stop', () => load.outcomes.filter((o) => o.status === 200).length > 20);
  await pgServer!.stop();
  const stoppedAt = Date.now();
  pgServer = undefined;
  await waitFor('503 answers', () => load.outcomes.filter((o) => o.status === 503).length > 20);
  const ready = await adminGet(cluster, '/readyz');
  assert.is(ready.status, 503);
  assert.match(ready.text, /^\{"status":"unavailable","reason":"the database/);
  await sleep(500);
  pgServer = await startEmbedded(dir, undefined, { port });
  const backAt = Date.now();
  await waitFor('answers after the restart', () => load.outcomes.some((o) => o.started > backAt && o.status === 200), 5000);
  const recoveredAt = load.outcomes.find((o) => o.started > backAt && o.status === 200)!.ended;
  await sleep(500);
  const outcomes = await load.stop();
  process.stdout.write(`  [runtime] PostgreSQL down ${backAt - stoppedAt} ms: ${outcomes.length} requests at concurrency ${CONCURRENCY}, ${JSON.stringify(tally(outcomes))}, first success ${recoveredAt - backAt} ms after the restart\n`);

  const down = outcomes.filter((o) => o.status === 503);
  assert.ok(down.length > 20);
  for (const o of down) {
    assert.equal(JSON.parse(o.body), { error: 'The database is unavailable; try again shortly', code: 'DATABASE_UNAVAILABLE' });
    assert.is(o.error, '5', 'Retry-After: 5');
  }
  // Nothing but 200 and 503: no 500, no dropped connection.
  assert.equal(Object.keys(tally(outcomes)).sort(), ['200', '503']);
  assert.ok(recoveredAt - backAt <= 5000);
  const late = outcomes.filter((o) => o.started > recoveredAt + 200);
  assert.ok(late.length > 0 && late.every((o) => o.status === 200), `after recovery: ${JSON.stringify(tally(late))}`);
  assert.equal(childPids(cluster.pid), workers, 'no worker exited');
  assert.is(await metric(cluster, 'thalamus_worker_restarts_total'), 0);
  assert.is((await adminGet(cluster, '/readyz')).status, 200);
});

t.run();
