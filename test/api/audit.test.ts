// The audit trail: reads batched, writes in their own transaction, failed logins,
// append-only in the database, purge, and GET /audit.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT } from '../helpers/http.js';

const t = suite('audit');
let s: TestServer;
t.before(async () => { s = await startServer(); });
t.after(async () => { await s.close(); });

interface Row { actor: string | null; actor_roles: string[]; action: string; route: string; record_id: string | null; person: string | null; status: number; client: string; request_id: string }

async function rowsFor(requestId: string): Promise<Row[]> {
  const { rows } = await s.db.pool.query<Row>(
    `SELECT actor, actor_roles, action, route, record_id, person, status, client, request_id FROM audit WHERE request_id = $1`, [requestId]);
  return rows;
}

const flush = () => s.worker.services.audit.flush();

t('a read of a health record appends a row (batched)', async () => {
  const r = await call(s.base, 'GET', '/people/ESPGNU777ORG', { as: CAMERON, headers: { 'x-request-id': 'audit-read-1' } });
  assert.is(r.status, 200);
  await flush();
  assert.equal(await rowsFor('audit-read-1'), [{
    actor: 'ITAPYT999HON', actor_roles: ['end_user', 'health_professional'], action: 'read', route: '/people/:id',
    record_id: 'ESPGNU777ORG', person: 'ESPGNU777ORG', status: 200, client: '127.0.0.1', request_id: 'audit-read-1',
  }]);
});

t('listings, refusals and misses are audited too', async () => {
  await call(s.base, 'GET', '/people', { as: ROOT, headers: { 'x-request-id': 'audit-list-1' } });
  await call(s.base, 'GET', '/pols/ITAPYT999HON', { as: ANA, headers: { 'x-request-id': 'audit-403-1' } });
  await call(s.base, 'GET', '/institutions/nope', { as: ROOT, headers: { 'x-request-id': 'audit-404-1' } });
  await flush();
  const pick = (rows: Row[]) => rows.map((r) => [r.action, r.route, r.record_id, r.person, r.status]);
  assert.equal(pick(await rowsFor('audit-list-1')), [['list', '/people', null, null, 200]]);
  assert.equal(pick(await rowsFor('audit-403-1')), [['list', '/pols/:id', 'ITAPYT999HON', 'ITAPYT999HON', 403]]);
  assert.equal(pick(await rowsFor('audit-404-1')), [['read', '/institutions/:record', 'nope', null, 404]]);
});

t('a write and its audit row are one transaction', async () => {
  const r = await call(s.base, 'POST', '/pols/ESPGNU777ORG/audit-page-1', { as: ANA, body: { summary: 'x' }, headers: { 'x-request-id': 'audit-write-1' } });
  assert.is(r.status, 201);
  // No flush: the row is already there, written by the same statement.
  const { rows } = await s.db.pool.query<{ same: boolean }>(
    `SELECT (SELECT xmin FROM pols WHERE id = 'audit-page-1')::text = (SELECT xmin FROM audit WHERE request_id = 'audit-write-1')::text AS same`);
  assert.is(rows[0]!.same, true);
  const [row] = await rowsFor('audit-write-1');
  assert.equal([row!.action, row!.route, row!.record_id, row!.person, row!.status], ['create', '/pols/:id/:page', 'audit-page-1', 'ESPGNU777ORG', 201]);
  for (const [method, path, body, id, action, status] of [
    ['PATCH', '/pols/ESPGNU777ORG/audit-page-1', { summary: 'y' }, 'audit-write-2', 'update', 200],
    ['DELETE', '/pols/ESPGNU777ORG/audit-page-1', undefined, 'audit-write-3', 'delete', 204],
    ['PATCH', '/people/ESPGNU777ORG', { profession: 'teacher' }, 'audit-write-4', 'update', 200],
    ['POST', '/institutions/audit-inst-1', { name: 'Clinic' }, 'audit-write-5', 'create', 201],
  ] as const) {
    const w = await call(s.base, method, path, { as: ROOT, body, headers: { 'x-request-id': id } });
    assert.is(w.status, status, `${method} ${path}`);
    assert.equal((await rowsFor(id)).map((x) => [x.action, x.status]), [[action, status]], `${method} ${path}`);
  }
});

t('a non-global user changing their own person is audited in the same transaction', async () => {
  const r = await call(s.base, 'PATCH', '/people/ESPGNU777ORG', { as: ANA, body: { roles: ['end_user'], name: 'Ana' }, headers: { 'x-request-id': 'audit-write-6' } });
  assert.is(r.status, 200);
  assert.equal((await rowsFor('audit-write-6')).map((x) => [x.actor, x.action, x.status]), [['ESPGNU777ORG', 'update', 200]]);
});

t('a failed login appends a row at once', async () => {
  const r = await call(s.base, 'GET', '/login', { as: { user: 'NOBODY42', password: 'guessing' }, headers: { 'x-request-id': 'audit-login-1' } });
  assert.is(r.status, 401);
  assert.equal((await rowsFor('audit-login-1')).map((x) => [x.actor, x.action, x.route, x.person, x.status]), [['NOBODY42', 'login_failed', '/login', null, 401]]);
});

t('the database refuses UPDATE, DELETE and TRUNCATE of audit rows; audit_purge removes old ones', async () => {
  const pool = s.db.pool;
  for (const sql of ['UPDATE audit SET status = 0', 'DELETE FROM audit', 'TRUNCATE audit']) {
    await pool.query(sql).then(() => assert.unreachable(sql), (err: Error) => assert.match(err.message, /append-only/));
  }
  await pool.query(`INSERT INTO audit (at, action, route, status, request_id) VALUES (now() - interval '10 days', 'read', '/people/:id', 200, 'audit-old-1')`);
  const before = Number((await pool.query('SELECT count(*) FROM audit')).rows[0].count);
  assert.is(Number((await pool.query('SELECT audit_purge(5) AS n')).rows[0].n), 1);
  assert.is(Number((await pool.query('SELECT count(*) FROM audit')).rows[0].count), before - 1);
  // The purge's permission does not outlive its call.
  await pool.query('DELETE FROM audit').then(() => assert.unreachable(), (err: Error) => assert.match(err.message, /append-only/));
});

t('GET /audit streams entries to root, filtered by person and time', async () => {
  await flush();
  const all = await call(s.base, 'GET', '/audit', { as: ROOT });
  assert.is(all.status, 200);
  assert.ok(Array.isArray(all.json) && all.json.length >= 8);
  assert.equal(Object.keys(all.json[0]).sort(), ['action', 'actor', 'at', 'client', 'detail', 'id', 'person', 'record', 'request_id', 'roles', 'route', 'status']);
  const ana = await call(s.base, 'GET', '/audit?person=espgnu777org', { as: ROOT });
  assert.ok(ana.json.length >= 3 && ana.json.every((e: { person: string }) => e.person === 'ESPGNU777ORG'));
  const future = await call(s.base, 'GET', '/audit?since=2999-01-01', { as: ROOT });
  assert.equal(future.json, []);
  const page = await call(s.base, 'GET', '/audit?limit=2', { as: ROOT });
  assert.is(page.json.length, 2);
  assert.match(String(page.headers.link), /^<\/audit\?limit=2&after=\d+>; rel="next"$/);
  const bad = await call(s.base, 'GET', '/audit?since=yesterday', { as: ROOT });
  assert.is(bad.status, 400);
  assert.is(bad.json.code, 'INVALID_QUERY');
  assert.is((await call(s.base, 'GET', '/audit?limit=2&after=abc', { as: ROOT })).status, 400);
  assert.is((await call(s.base, 'GET', '/audit', { as: CAMERON })).status, 403);
  assert.is((await call(s.base, 'GET', '/audit')).status, 401);
});

t.run();
