// The embedded PostgreSQL beside the primary, run as users run it: `server/main.ts`
// with no database configured and DATA_DIR a temporary folder. Ctrl-C (SIGINT to the
// whole process group) lets in-flight requests finish against it and stops it last;
// after `kill -9` of the primary it lives on, and the next start stops it and serves
// the same data; a second start while one runs is refused and harms nothing; a stop
// signal during start-up leaves nothing running.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { readPidFile, stopPid } from '../../lib/db/postmaster.js';
import { isAlive, parentOf } from '../../lib/db/proc.js';
import { ANA, CAMERON, basic, call } from '../helpers/http.js';
import { startCluster, startLoad, childPids, waitFor, sleep, tally, within, type ClusterProcess } from '../helpers/cluster.js';

const t = suite('runtime: the embedded PostgreSQL');
let dir: string;
let env: Record<string, string | undefined>;
const running: ClusterProcess[] = [];
const CONCURRENCY = 6;

/** The process group of `pid`, from /proc. */
function groupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** The exit of `c`, or a failure after `ms`. */
const exitWithin = (c: ClusterProcess, ms = 30_000) => within(c.exited, ms, 'the exit');

const postmaster = () => readPidFile(join(dir, 'postgres'))?.pid;

async function start(opts: { detached?: boolean; ready?: boolean } = {}): Promise<ClusterProcess> {
  const c = await startCluster(env, { ...opts, args: ['--dev'] });
  running.push(c);
  return c;
}

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'thalamus-embedded-'));
  chmodSync(dir, 0o755); // as root, PostgreSQL runs as user postgres
  // No database configured, whatever the environment running the tests says.
  env = { DATABASE_URL: undefined, POSTGRESQL_URI: undefined, THALAMUS_POSTGRESQL_URI: undefined, THALAMUS_DATA_DIR: dir, THALAMUS_LOG_LEVEL: 'info' };
  // A development start (--dev), whatever the environment running the tests says.
  Object.assign(env, { NODE_ENV: undefined, INVOCATION_ID: undefined, NOTIFY_SOCKET: undefined, THALAMUS_CONFIG: undefined });
});

t.after(async () => {
  for (const c of running) await c.stop(5000);
  const left = postmaster();
  if (left && isAlive(left)) await stopPid(left);
  rmSync(dir, { recursive: true, force: true });
});

t('Ctrl-C (SIGINT to the process group) under load: in-flight requests and a slow upload succeed, exit 0, PostgreSQL stopped last', async () => {
  const c = await start({ detached: true });
  const pm = postmaster()!;
  assert.ok(pm && isAlive(pm), 'an embedded PostgreSQL runs');
  assert.is.not(groupOf(pm), groupOf(c.pid), 'it is not in the primary\'s process group');
  const load = startLoad(c.base, { concurrency: CONCURRENCY, path: '/people/ESPGNU777ORG', as: CAMERON });
  await waitFor('answers before the signal', () => load.outcomes.filter((o) => o.status === 200).length > 20);
  // An upload still arriving after the signal: its INSERT runs during the drain.
  const text = JSON.stringify({ id: 'EMB-SLOW-1', page_type: 'medical', summary: 'sent slowly' });
  const slowBody = Readable.from((async function* () {
    for (const part of [text.slice(0, 10), text.slice(10, 30), text.slice(30)]) { yield part; await sleep(500); }
  })());
  const slow = request(`${c.base}/pols/ESPGNU777ORG/EMB-SLOW-1`, { method: 'POST', body: slowBody, headers: { authorization: basic(ANA) } })
    .then(async (r) => ({ status: r.statusCode, json: await r.body.json() as Record<string, unknown> }));
  await sleep(200);
  const signalAt = Date.now();
  process.kill(-c.pid, 'SIGINT');
  await sleep(300);
  const aliveWhileDraining = isAlive(pm);
  const exit = await exitWithin(c);
  const outcomes = await load.stop();
  const posted = await slow;
  const inFlight = outcomes.filter((o) => o.started < signalAt);
  process.stdout.write(`  [embedded] SIGINT to the group: ${outcomes.length} requests at concurrency ${CONCURRENCY}, ${JSON.stringify(tally(outcomes))}; started before the signal: ${inFlight.length}, failed ${inFlight.filter((o) => o.status !== 200).length}; slow upload ${posted.status}\n`);
  assert.ok(aliveWhileDraining, 'PostgreSQL still runs while the workers drain');
  assert.equal(exit, { code: 0, signal: null });
  assert.is(posted.status, 201);
  assert.is(posted.json.summary, 'sent slowly');
  assert.equal(tally(inFlight), { 200: inFlight.length });
  assert.not.ok(outcomes.some((o) => o.status === 503), 'no request met a stopped database');
  assert.not.ok(isAlive(pm), 'PostgreSQL stopped');
  assert.not.ok(existsSync(join(dir, 'postgres', 'postmaster.pid')), 'and shut down cleanly');
  assert.equal(childPids(c.pid), []);
});

t('kill -9 of the primary leaves PostgreSQL running; the next start on the same DATA_DIR stops it and serves the data', async () => {
  const first = await start();
  const orphan = postmaster()!;
  assert.is(parentOf(orphan), first.pid);
  first.child.kill('SIGKILL');
  await first.exited;
  await waitFor('the workers to leave', () => childPids(first.pid).length === 0);
  assert.ok(isAlive(orphan), 'PostgreSQL outlives a killed primary');
  assert.is.not(parentOf(orphan), first.pid);

  const second = await start();
  const started = postmaster()!;
  process.stdout.write(`  [embedded] after kill -9: PostgreSQL ${orphan} left behind, stopped by the next start, which runs ${started}\n`);
  assert.match(second.output(), `stopping the embedded PostgreSQL (pid ${orphan}) left running by an earlier start`);
  assert.not.ok(isAlive(orphan), 'the orphan is gone');
  assert.is.not(started, orphan);
  assert.is(parentOf(started), second.pid);
  const login = await call(second.base, 'GET', '/login', { as: ANA });
  assert.equal([login.status, login.text], [200, 'true']);
  const page = await call(second.base, 'GET', '/pols/ESPGNU777ORG/EMB-SLOW-1', { as: ANA });
  assert.equal([page.status, page.json?.summary], [200, 'sent slowly'], 'the upload of the previous test was kept');
});

t('a second start on a DATA_DIR in use is refused and leaves the running server alone', async () => {
  const serving = running[running.length - 1]!;
  const pm = postmaster()!;
  const second = await start({ ready: false });
  const exit = await exitWithin(second);
  assert.equal(exit, { code: 1, signal: null });
  assert.match(second.output(), `${dir} is in use: its PostgreSQL (pid ${pm}) belongs to process ${serving.pid}, which is still running`);
  assert.ok(isAlive(pm));
  const login = await call(serving.base, 'GET', '/login', { as: ANA });
  assert.equal([login.status, login.text], [200, 'true']);
  assert.equal(await serving.stop(), { code: 0, signal: null });
  assert.not.ok(isAlive(pm), 'SIGTERM stops PostgreSQL too');
});

t('a stop signal during start-up (while initdb runs) is acted on once the database is up: exit 0, no PostgreSQL left', async () => {
  const early = join(dir, 'early');
  const c = await startCluster({ ...env, THALAMUS_DATA_DIR: early }, { ready: false, args: ['--dev'] });
  running.push(c);
  await waitFor('initdb to start', () => c.output().includes('initialising embedded PostgreSQL'));
  c.child.kill('SIGTERM');
  const exit = await exitWithin(c);
  assert.equal(exit, { code: 0, signal: null }, c.output());
  assert.not.match(c.output(), 'thalamus listening', 'it never served');
  const left = readPidFile(join(early, 'postgres'));
  assert.ok(!left || !isAlive(left.pid), 'its PostgreSQL was stopped');
  assert.ok(existsSync(join(early, 'postgres', 'PG_VERSION')), 'the cluster it made is kept for the next start');
});

t.run();
