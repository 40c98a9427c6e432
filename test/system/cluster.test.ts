// The test bed (test/helpers/testbed.ts): a PostgreSQL primary with a streaming hot
// standby, two Thalamus instances and nginx in front, all real processes on loopback.
// In order, since each step changes the bed: writes and a role change across the two
// instances; listings from the standby, skipped while it lags and while it is stopped;
// a failover drill under load with synchronous replication (crash the primary, promote
// the standby); and one instance killed with kill -9 under load. The figures are printed.
import * as assert from 'uvu/assert';
import { suiteNeeding, TOOLS } from '../helpers/tools.js';
import { request, type Dispatcher } from 'undici';
import { ANA, CAMERON, ROOT, HASH_PATTERN, basic, listedOf, type Account } from '../helpers/http.js';
import { adminGet, sleep, startLoad, tally, waitFor, type ClusterProcess, type Outcome } from '../helpers/cluster.js';
import { waitForStreaming } from '../helpers/pgcluster.js';
import { startTestBed, killInstance, BED_MAX_LAG, type TestBed } from '../helpers/testbed.js';

const t = suiteNeeding('cluster: two instances on a primary and a streaming standby, behind nginx', [TOOLS.nginx, TOOLS.pgServer, TOOLS.openssl]);
let bed: TestBed | undefined;

const say = (line: string) => process.stdout.write(`  [cluster] ${line}\n`);

t.before(async () => {
  bed = await startTestBed(say);
});

t.after(async () => {
  await bed?.close();
});

interface Answer { status: number; text: string; json: any; headers: Record<string, string | string[] | undefined> } // eslint-disable-line @typescript-eslint/no-explicit-any

async function req(base: string, method: string, path: string, opts: { as?: Account; body?: unknown } = {}): Promise<Answer> {
  const dispatcher: Dispatcher | undefined = base.startsWith('https:') ? bed!.dispatcher : undefined;
  const res = await request(base + path, {
    method: method as 'GET', dispatcher, headersTimeout: 20_000, bodyTimeout: 20_000,
    headers: opts.as ? { authorization: basic(opts.as) } : {},
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  assert.not.match(text, HASH_PATTERN, `${method} ${path} returned a password hash`);
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.statusCode, text, json, headers: res.headers };
}

/** The value of the metric line starting with `series` (name and labels). */
async function series(proc: ClusterProcess, name: string): Promise<number> {
  const { text } = await adminGet(proc, '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

const both = async (name: string) => (await Promise.all(bed!.instances.map((i) => series(i.proc, name)))).reduce((a, b) => a + b, 0);
const IN_USE = 'thalamus_read_standby_workers{state="in_use"}';
const bookIds = (a: Answer) => (listedOf(a.json) ?? []).map((p: { id: string }) => p.id);
const ok = (o: Outcome) => o.status >= 200 && o.status < 300;
const pageBody = (summary: string) => JSON.stringify({ page_type: 'medical', medical_context: 'encounter', summary });

/** Ids of the pages `writes` created that the database `db` holds. */
async function stored(prefix: string): Promise<Set<string>> {
  const { rows } = await bed!.pg.standby.query<{ id: string }>(`SELECT id FROM pols WHERE book = 'ESPGNU777ORG' AND id LIKE $1`, [`${prefix}%`]);
  return new Set(rows.map((r) => r.id));
}

const idOf = (o: Outcome) => o.path.split('/').pop()!;

t('writes through either instance are read back through the other at once; a role change through one applies on the next request through the other', async () => {
  const [A, B] = bed!.instances.map((i) => i.proc.base) as [string, string];
  const page = { id: 'BED-1', page_type: 'medical', summary: 'written through A' };
  assert.is((await req(A, 'POST', '/pols/ESPGNU777ORG/BED-1', { as: ANA, body: page })).status, 201);
  const read = await req(B, 'GET', '/pols/ESPGNU777ORG/BED-1', { as: ANA });
  assert.is(read.status, 200);
  assert.equal(read.json, { ...page, book: 'ESPGNU777ORG' });
  assert.is((await req(B, 'PATCH', '/pols/ESPGNU777ORG/BED-1', { as: ANA, body: { summary: 'patched through B' } })).status, 200);
  assert.is((await req(A, 'GET', '/pols/ESPGNU777ORG/BED-1', { as: ANA })).json.summary, 'patched through B');
  const person = { name: 'Bed', lastname: 'Person', dob: '1990-01-01', gender: 'f' };
  assert.is((await req(B, 'POST', '/people/BEDPERSON001', { as: ROOT, body: person })).status, 201);
  const created = await req(A, 'GET', '/people/BEDPERSON001', { as: ROOT });
  assert.is(created.status, 200);
  assert.equal({ ...created.json, roles: undefined }, { ...person, id: 'BEDPERSON001', roles: undefined }, 'as sent, with the default role added');

  // Cameron lists everyone as a health professional; root takes that role away through A.
  assert.is((await req(B, 'GET', '/people', { as: CAMERON })).status, 200);
  assert.is((await req(A, 'PATCH', '/people/ITAPYT999HON', { as: ROOT, body: { roles: ['end_user'] } })).status, 200);
  const refused = await req(B, 'GET', '/people', { as: CAMERON });
  assert.is(refused.status, 403, 'the very next request through the other instance');
  assert.is(refused.json.code, 'FORBIDDEN');
  assert.is((await req(B, 'GET', '/people/ITAPYT999HON', { as: CAMERON })).status, 200, 'still an end user');
  assert.is((await req(B, 'PATCH', '/people/ITAPYT999HON', { as: ROOT, body: { roles: ['end_user', 'health_professional'] } })).status, 200);
  assert.is((await req(A, 'GET', '/people', { as: CAMERON })).status, 200);
});

t('listings come from the standby; a lagging standby is skipped until it catches up; a stopped one: listings from the primary, no errors', async () => {
  const b = bed!;
  const [A] = b.instances;
  await waitFor('both instances to read from the standby', async () => (await both(IN_USE)) === 4, 15_000);
  const before = { standby: await both('thalamus_routed_reads_total{target="standby"}'), primary: await both('thalamus_routed_reads_total{target="primary"}') };
  for (let i = 0; i < 4; i++) assert.is((await req(b.base, 'GET', '/pols/ESPGNU777ORG', { as: ANA })).status, 200);
  const after = { standby: await both('thalamus_routed_reads_total{target="standby"}'), primary: await both('thalamus_routed_reads_total{target="primary"}') };
  assert.is(after.standby - before.standby, 4, 'four listings through nginx, all from the standby');
  assert.is(after.primary - before.primary, 0);

  // Replay paused: a page written now is not in a listing the standby serves, until the
  // lag passes READ_MAX_LAG and the primary serves the listings.
  await b.pg.standby.query('SELECT pg_wal_replay_pause()');
  await waitFor('replay to pause', async () => (await b.pg.standby.query<{ s: string }>('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0]!.s === 'paused');
  const pausedAt = Date.now();
  assert.is((await req(A.proc.base, 'POST', '/pols/ESPGNU777ORG/BED-LAG', { as: ANA, body: { page_type: 'medical', summary: 'while replay is paused' } })).status, 201);
  const stale = await req(A.proc.base, 'GET', '/pols/ESPGNU777ORG', { as: ANA });
  assert.is(stale.status, 200);
  assert.not.ok(bookIds(stale).includes('BED-LAG'), 'served by the paused standby, whose lag is still under the bound');
  await waitFor('instance A to skip the lagging standby', async () => (await series(A.proc, IN_USE)) === 0, 15_000);
  const skippedAfter = Date.now() - pausedAt;
  const lag = await series(A.proc, 'thalamus_read_standby_lag_seconds');
  assert.ok(lag > BED_MAX_LAG, `lag metric ${lag}`);
  assert.ok(bookIds(await req(A.proc.base, 'GET', '/pols/ESPGNU777ORG', { as: ANA })).includes('BED-LAG'), 'now from the primary');
  assert.match(A.proc.output(), /read standby skipped: it lags [\d.]+ s, more than READ_MAX_LAG \(2 s\)/);
  await b.pg.standby.query('SELECT pg_wal_replay_resume()');
  const resumedAt = Date.now();
  await waitFor('both instances to read from the standby again', async () => (await both(IN_USE)) === 4, 15_000);
  const backAfter = Date.now() - resumedAt;
  assert.match(A.proc.output(), /read standby in use again/);
  const caughtUp = await req(A.proc.base, 'GET', '/pols/ESPGNU777ORG', { as: ANA });
  assert.ok(bookIds(caughtUp).includes('BED-LAG'));
  say(`lag: replay paused, a listing right after a write did not show it (standby); skipped ${skippedAfter} ms after the pause at a measured lag of ${lag} s (READ_MAX_LAG ${BED_MAX_LAG} s); in use again ${backAfter} ms after replay resumed`);

  // The standby stopped while listings stream through nginx, then started again.
  const retriedBefore = await both('thalamus_routed_reads_retried_total');
  const load = startLoad(b.base, { concurrency: 3, path: '/pols/ESPGNU777ORG', as: ANA, dispatcher: b.dispatcher });
  await waitFor('listings before the stop', () => load.outcomes.length > 30);
  const stoppedAt = Date.now();
  await b.pg.standby.stop('fast');
  await waitFor('both instances to skip the stopped standby', async () => (await both(IN_USE)) === 0, 15_000);
  const downAfter = Date.now() - stoppedAt;
  await sleep(1000);
  const startedAt = Date.now();
  await b.pg.standby.start();
  await waitForStreaming(b.pg);
  await waitFor('both instances to read from the standby again', async () => (await both(IN_USE)) === 4, 20_000);
  const upAfter = Date.now() - startedAt;
  await sleep(500);
  const outcomes = await load.stop();
  const retried = (await both('thalamus_routed_reads_retried_total')) - retriedBefore;
  const during = outcomes.filter((o) => o.started >= stoppedAt && o.started <= startedAt + upAfter);
  say(`standby stopped: ${outcomes.length} listings through nginx at concurrency 3, ${JSON.stringify(tally(outcomes))}; ${during.length} while it was away; both instances skipped it within ${downAfter} ms; ${retried} listing(s) the standby failed were served again by the primary; in use ${upAfter} ms after its start`);
  assert.equal(Object.keys(tally(outcomes)), ['200'], 'every listing answered 200');
  assert.ok(during.length > 10);
  assert.match(A.proc.output(), /read standby skipped: it does not answer/);
});

t('failover drill under load: crash the primary, promote the standby; the instances find it, nothing answered 2xx is lost', async () => {
  const b = bed!;
  // No 2xx before the standby has the commit too (docs/scaling.md).
  await b.pg.primary.query(`ALTER SYSTEM SET synchronous_standby_names = '*'`);
  await b.pg.primary.query(`ALTER SYSTEM SET synchronous_commit = 'on'`);
  await b.pg.primary.query('SELECT pg_reload_conf()');
  await waitForStreaming(b.pg, true);
  let n = 0;
  const writes = startLoad(b.base, { concurrency: 4, as: ANA, dispatcher: b.dispatcher, path: () => ({ method: 'POST', path: `/pols/ESPGNU777ORG/DRILL-${++n}`, body: pageBody('failover drill') }) });
  const reads = startLoad(b.base, { concurrency: 2, as: CAMERON, dispatcher: b.dispatcher, path: '/people/ESPGNU777ORG' });
  await waitFor('writes before the failover', () => writes.outcomes.filter(ok).length >= 60, 20_000);
  const crashAt = Date.now();
  await b.pg.primary.stop('immediate');
  await b.pg.standby.query('SELECT pg_promote(true, 30)');
  const promotedAt = Date.now();
  await waitFor('writes to succeed again', () => writes.outcomes.some((o) => o.started > promotedAt && ok(o)), 20_000);
  await sleep(1500);
  const w = await writes.stop();
  const r = await reads.stop();

  const kept = await stored('DRILL-');
  const answered = w.filter(ok);
  const lost = answered.filter((o) => !kept.has(idOf(o)));
  const failed = [...w, ...r].filter((o) => !ok(o));
  const failedWrites = w.filter((o) => !ok(o));
  const committedAnyway = failedWrites.filter((o) => kept.has(idOf(o))).length;
  const firstWriteBack = w.filter((o) => o.started > crashAt && ok(o)).sort((x, y) => x.ended - y.ended)[0]!;
  const gap = firstWriteBack.ended - crashAt;
  const failedSpan = failed.length ? `${Math.max(...failed.map((o) => o.ended)) - Math.min(...failed.map((o) => o.started))} ms` : 'none';
  say(`failover: ${w.length} writes (${JSON.stringify(tally(w))}) and ${r.length} reads (${JSON.stringify(tally(r))}) through nginx; ` +
    `promotion done ${promotedAt - crashAt} ms after the crash; first write answered 2xx ${gap} ms after the crash; ` +
    `${failed.length} requests failed during the gap (span ${failedSpan}); writes answered 2xx: ${answered.length}, lost: ${lost.length}; ` +
    `failed writes committed anyway: ${committedAnyway} of ${failedWrites.length}`);
  assert.is(lost.length, 0, `writes answered 2xx but missing on the new primary: ${lost.map(idOf).join(', ')}`);
  for (const o of failed) {
    assert.is(o.status, 503, `a request in the gap: ${o.method} ${o.path} -> ${o.status} ${o.error ?? ''} ${o.body}`);
    assert.is(o.error, '5', 'Retry-After: 5');
    assert.is(JSON.parse(o.body).code, 'DATABASE_UNAVAILABLE');
  }
  assert.ok(gap < 15_000, `gap ${gap} ms`);
  for (const { proc } of b.instances) {
    assert.is((await adminGet(proc, '/readyz')).status, 200);
    assert.match(proc.output(), new RegExp(`the writable host is now 127\\.0\\.0\\.1:${b.pg.standby.port} \\(was 127\\.0\\.0\\.1:${b.pg.primary.port}\\)`));
  }
  // The promoted server also serves the listings: it answers as a primary would, lag 0.
  assert.is((await req(b.base, 'GET', '/changes?since=0&limit=5', { as: ROOT })).status, 200);
});

t('one instance killed with kill -9 under load: nginx routes around it, no accepted write is lost', async () => {
  const b = bed!;
  const [A, B] = b.instances;
  const servedByB = async () => Number((await adminGet(B.proc, '/metrics')).text.split('\n')
    .filter((l) => l.startsWith('thalamus_http_requests_total{')).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0));
  let n = 0;
  const writes = startLoad(b.base, { concurrency: 4, as: ANA, dispatcher: b.dispatcher, path: () => ({ method: 'POST', path: `/pols/ESPGNU777ORG/KILL-${++n}`, body: pageBody('kill -9 drill') }) });
  const reads = startLoad(b.base, { concurrency: 2, as: CAMERON, dispatcher: b.dispatcher, path: '/people/ESPGNU777ORG' });
  await waitFor('writes before the kill', () => writes.outcomes.filter(ok).length >= 60, 20_000);
  const bBefore = await servedByB();
  const killedAt = Date.now();
  killInstance(A.proc);
  await A.proc.exited;
  await sleep(3000);
  const w = await writes.stop();
  const r = await reads.stop();
  const kept = await stored('KILL-');
  const answered = w.filter(ok);
  const lost = answered.filter((o) => !kept.has(idOf(o)));
  const failed = [...w, ...r].filter((o) => !ok(o));
  const after = [...w, ...r].filter((o) => o.started > killedAt + 1000);
  say(`kill -9 of instance A: ${w.length} writes (${JSON.stringify(tally(w))}) and ${r.length} reads (${JSON.stringify(tally(r))}) through nginx; ` +
    `${failed.length} failed (${failed.map((o) => `${o.method} ${o.status || o.error} sent ${o.started - killedAt} ms after the kill`).join(', ') || 'none'}); ` +
    `writes answered 2xx: ${answered.length}, lost: ${lost.length}; requests started 1 s after the kill: ${after.length}, all 2xx: ${after.every(ok)}`);
  assert.is(lost.length, 0);
  assert.ok(failed.every((o) => o.started <= killedAt + 1000), 'only requests sent as A died fail');
  assert.ok(after.length > 20 && after.every(ok));
  assert.ok((await servedByB()) - bBefore >= after.length, 'instance B served the rest');
});

t.run();
