// test: alone (it counts failed requests under load through signals)
// The production process model, run as users run it: `server/main.ts` as a child with
// two workers on a migrated test database. Admin endpoints, kill -9 of a worker, SIGHUP
// (good and bad configuration) and SIGTERM, each under continuous load.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { ROOT } from '../../lib/config.js';
import { migrate } from '../../lib/db/migrate.js';
import { createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { CAMERON, ANA, basic } from '../helpers/http.js';
import { startCluster, startLoad, adminGet, metric, childPids, waitFor, sleep, tally, within, type ClusterProcess } from '../helpers/cluster.js';

const t = suite('runtime: cluster, signals, admin');
let db: TestDatabase;
let dir: string;
let cfg: string;
let roles: string;
let c: ClusterProcess;
const LOAD = { concurrency: 6, path: '/people/ESPGNU777ORG', as: CAMERON };

/** Prints what a signal test measured, for the closing report. */
function report(name: string, outcomes: { status: number }[], extra = ''): void {
  process.stdout.write(`  [runtime] ${name}: ${outcomes.length} requests at concurrency ${LOAD.concurrency}, ${JSON.stringify(tally(outcomes as never))}${extra}\n`);
}

t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  dir = mkdtempSync(join(tmpdir(), 'thalamus-runtime-'));
  cfg = join(dir, 'thalamus.cfg');
  roles = join(dir, 'roles.cfg');
  writeFileSync(roles, readFileSync(join(ROOT, 'etc', 'roles.cfg')));
  writeFileSync(cfg, `ACL = "${roles}"\n`);
  c = await startCluster({ DATABASE_URL: db.url, THALAMUS_CONFIG: cfg });
});

t.after(async () => {
  if (c) await c.stop(2000);
  if (process.env.TEST_LOG_LEVEL) process.stdout.write(c?.output() ?? '');
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
});

t('admin: /healthz, /readyz, and a 404 for anything else', async () => {
  assert.equal(await adminGet(c, '/healthz'), { status: 200, text: '{"status":"ok"}' });
  assert.equal(await adminGet(c, '/readyz'), { status: 200, text: '{"status":"ready","warnings":["administrator ARGBUE111FAV still has a password of the demo federation: change it (thalamus user passwd ARGBUE111FAV)"]}' });
  assert.equal(await adminGet(c, '/nope'), { status: 404, text: '{"error":"No such endpoint","code":"NO_ROUTE"}' });
});

t('requests carry X-Request-Id; /metrics counts them across both workers', async () => {
  for (let i = 0; i < 6; i++) {
    const res = await request(`${c.base}/people/ESPGNU777ORG`, { headers: { authorization: basic(CAMERON), 'x-request-id': `rt-${i}`, connection: 'close' } });
    await res.body.dump();
    assert.is(res.statusCode, 200);
    assert.is(res.headers['x-request-id'], `rt-${i}`);
  }
  const { status, text } = await adminGet(c, '/metrics');
  assert.is(status, 200);
  assert.match(text, /^thalamus_http_requests_total\{method="GET",route="\/people\/:id",status="200"\} 6$/m);
  assert.match(text, /^thalamus_http_request_duration_seconds_count\{route="\/people\/:id"\} 6$/m);
  assert.match(text, /^thalamus_http_request_duration_seconds_bucket\{route="\/people\/:id",le="\+Inf"\} 6$/m);
  assert.match(text, /^# TYPE thalamus_http_request_duration_seconds histogram$/m);
  assert.match(text, /^thalamus_db_pool_connections\{state="total"\} \d+$/m);
  assert.match(text, /^thalamus_db_pool_waiting 0$/m);
  assert.match(text, /^thalamus_workers_up 2$/m);
  assert.match(text, /^thalamus_worker_restarts_total 0$/m);
  const verifications = await metric(c, 'thalamus_auth_verifications_total');
  const hits = await metric(c, 'thalamus_auth_cache_hits_total');
  const oneRoundTrip = await metric(c, 'thalamus_requests_one_round_trip_total');
  assert.is(verifications + hits + oneRoundTrip, 6);
  assert.ok(verifications >= 1 && verifications <= 2, `one verification per worker, got ${verifications}`);
});

t('kill -9 of one worker under load: it is replaced and the server keeps answering', async () => {
  const before = childPids(c.pid);
  assert.is(before.length, 2);
  const load = startLoad(c.base, LOAD);
  await sleep(1000);
  const killedAt = Date.now();
  process.kill(before[0]!, 'SIGKILL');
  await waitFor('a replacement worker', async () => (await metric(c, 'thalamus_workers_up')) === 2 && (await metric(c, 'thalamus_worker_restarts_total')) === 1);
  await sleep(1000);
  const outcomes = await load.stop();
  const after = childPids(c.pid);
  assert.is(after.length, 2);
  assert.ok(!after.includes(before[0]!), 'the killed worker is gone');
  assert.ok(after.includes(before[1]!), 'the other worker kept running');
  const failed = outcomes.filter((o) => o.status !== 200);
  report('kill -9 one worker', outcomes, `, failed ${failed.length}`);
  // Only requests in flight on the killed worker may fail: at most one per load loop.
  assert.ok(failed.length <= LOAD.concurrency, `failed ${failed.length}: ${JSON.stringify(tally(failed))}`);
  assert.ok(failed.every((o) => o.status === 0), 'failures are dropped connections, never an error status');
  assert.ok(outcomes.filter((o) => o.started > killedAt + 500 && o.status === 200).length > 10, 'answers continue after the kill');
});

t('SIGHUP under load: every worker is replaced, zero failed requests', async () => {
  const before = childPids(c.pid);
  const load = startLoad(c.base, LOAD);
  await sleep(1000);
  process.kill(c.pid, 'SIGHUP');
  await waitFor('the reload', async () => (await metric(c, 'thalamus_reloads_total')) === 1);
  await sleep(500);
  const outcomes = await load.stop();
  const after = childPids(c.pid);
  assert.is(after.length, 2);
  assert.ok(after.every((p) => !before.includes(p)), `all workers replaced: ${before} -> ${after}`);
  report('SIGHUP', outcomes);
  assert.equal(tally(outcomes), { 200: outcomes.length });
  assert.ok(outcomes.length > 50, `enough load: ${outcomes.length}`);
});

t('SIGHUP with a configuration or roles file that does not parse keeps the running workers', async () => {
  const before = childPids(c.pid);
  const good = readFileSync(cfg, 'utf8');
  writeFileSync(cfg, `${good}this is not a setting\n`);
  process.kill(c.pid, 'SIGHUP');
  await waitFor('the refusal', () => /reload refused, the running workers stay: .*thalamus.cfg:2: expected KEY = VALUE/.test(c.output()));
  writeFileSync(cfg, good);
  const goodRoles = readFileSync(roles, 'utf8');
  writeFileSync(roles, '[{"role": ');
  process.kill(c.pid, 'SIGHUP');
  await waitFor('the refusal', () => /reload refused, the running workers stay: .*roles\.cfg: not valid JSON/.test(c.output()));
  writeFileSync(roles, goodRoles);
  await sleep(300);
  assert.equal(childPids(c.pid), before);
  assert.is(await metric(c, 'thalamus_reloads_total'), 1);
  const res = await request(`${c.base}/login`, { headers: { authorization: basic(ANA) } });
  assert.is(res.statusCode, 200);
  assert.is(await res.body.text(), 'true');
});

t('SIGTERM under load: in-flight requests complete (a slow upload too), exit code 0', async () => {
  const load = startLoad(c.base, LOAD);
  await sleep(800);
  // An upload that is still arriving when the signal comes.
  const page = { id: 'RT-SLOW-1', page_type: 'medical', summary: 'sent slowly' };
  const text = JSON.stringify(page);
  const slowBody = Readable.from((async function* () {
    for (const part of [text.slice(0, 10), text.slice(10, 30), text.slice(30)]) { yield part; await sleep(500); }
  })());
  const slow = request(`${c.base}/pols/ESPGNU777ORG/RT-SLOW-1`, { method: 'POST', body: slowBody, headers: { authorization: basic(ANA) } })
    .then(async (r) => ({ status: r.statusCode, json: await r.body.json() as Record<string, unknown> }));
  await sleep(200);
  const signalAt = Date.now();
  process.kill(c.pid, 'SIGTERM');
  const exit = await within(c.exited, 30_000, 'the exit after SIGTERM');
  const exitMs = Date.now() - signalAt;
  const outcomes = await load.stop();
  const posted = await slow;
  const inFlight = outcomes.filter((o) => o.started < signalAt);
  report('SIGTERM', outcomes, `; started before the signal: ${inFlight.length}, failed ${inFlight.filter((o) => o.status !== 200).length}; exit ${exitMs} ms after the signal`);
  assert.equal(exit, { code: 0, signal: null });
  // The slow upload ends about 1.3 s after the signal; its keep-alive connection must not
  // hold the worker until SHUTDOWN_TIMEOUT (10 s).
  assert.ok(exitMs < 5000, `exit ${exitMs} ms after SIGTERM`);
  assert.is(posted.status, 201);
  assert.is(posted.json.summary, 'sent slowly');
  assert.equal(tally(inFlight), { 200: inFlight.length });
  const { rows } = await db.pool.query(`SELECT data->>'summary' AS s FROM pols WHERE id = 'RT-SLOW-1'`);
  assert.equal(rows, [{ s: 'sent slowly' }]);
  assert.equal(childPids(c.pid), []);
});

t.run();
