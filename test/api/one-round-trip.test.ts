// One round trip per request (issue 11): a principal a worker verified before is
// answered by one guarded statement (read, listing, write), and every change that must
// apply on the very next request does so through that path: a password, roles, a
// deactivation, a lockout, and the same changes made directly in SQL. Two workers on
// one database, each with its own caches: what one (or psql) changes, the other applies.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, listedOf, ANA as DEMO_ANA, CAMERON, ROOT, type Account } from '../helpers/http.js';
import { startHttpServer, type HttpServer } from '../../server/http-server.js';
import { createLogger } from '../../lib/log.js';

/** Ana's password changes here: a copy, so other test files keep the demo's. */
const ANA = { ...DEMO_ANA };

const t = suite('one round trip');
let a: TestServer;
let b: HttpServer;
let bBase = '';
/** Statements B's pool ran (its pool.query calls), counted by the test. */
let statements = 0;
/** Clients B's listings checked out of its pool for their cursors (pool.query's own checkout passes a callback). */
let checkouts = 0;

t.before(async () => {
  a = await startServer();
  b = await startHttpServer(a.config, a.db.url, createLogger('silent'));
  bBase = `http://127.0.0.1:${b.address.port}`;
  const pool = b.services.pool as pg.Pool & { query: (...args: unknown[]) => unknown };
  const query = pool.query.bind(pool);
  // Not the request's: the audit log's batched INSERT of reads (every second), the purges of
  // old rows and the subscriptions' due scan (lib/subscriptions/progress.ts), on timers.
  const background = /FROM unnest\(|^DELETE FROM login_failures WHERE failed_at <|^DELETE FROM login_locks WHERE until <|^SELECT (audit|changes)_purge\(|^SELECT id, wait, pending FROM/;
  pool.query = (...args: unknown[]) => {
    const first = args[0] as string | { text?: string };
    const text = typeof first === 'string' ? first : first?.text ?? '';
    if (!background.test(text.trim())) statements++;
    return query(...args);
  };
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { connect: (...args: unknown[]) => unknown }).connect = (...args: unknown[]) => { if (!args.length) checkouts++; return connect(...args); };
  // The demo's bcrypt hashes are upgraded by the first login; settle that first.
  for (const who of [ANA, CAMERON, ROOT]) assert.is((await call(a.base, 'GET', '/login', { as: who })).status, 200);
});
t.after(async () => { await b.close(1000); await a.close(); });

const paths = () => ({ ...b.services.paths });

/** Runs `request` on B and returns how many statements B ran and which path answered. */
async function measured(request: () => Promise<{ status: number }>): Promise<{ status: number; statements: number; oneRoundTrip: number; guardFailed: number }> {
  const before = paths();
  statements = 0;
  const r = await request();
  // The audit log writes reads off the response path, batched: not a statement of the request.
  const after = paths();
  return { status: r.status, statements, oneRoundTrip: after.oneRoundTrip - before.oneRoundTrip, guardFailed: after.guardFailed - before.guardFailed };
}

async function warm(as: Account, path: string): Promise<void> {
  assert.is((await call(bBase, 'GET', path, { as })).status, 200);
}

t('a read, a listing, a page write and a merge each take one statement once the principal is verified', async () => {
  await warm(ANA, `/people/${ANA.user}`);
  const read = await measured(() => call(bBase, 'GET', `/people/${ANA.user}`, { as: ANA }));
  assert.equal(read, { status: 200, statements: 1, oneRoundTrip: 1, guardFailed: 0 });
  const book = await measured(() => call(bBase, 'GET', `/pols/${ANA.user}`, { as: ANA }));
  assert.equal(book, { status: 200, statements: 1, oneRoundTrip: 1, guardFailed: 0 });
  const created = await measured(() => call(bBase, 'POST', `/pols/${ANA.user}/one-trip-1`, { as: ANA, body: { summary: 'x' } }));
  assert.equal(created, { status: 201, statements: 1, oneRoundTrip: 1, guardFailed: 0 });
  const patched = await measured(() => call(bBase, 'PATCH', `/pols/${ANA.user}/one-trip-1`, { as: ANA, body: { summary: 'y' } }));
  assert.equal(patched, { status: 200, statements: 1, oneRoundTrip: 1, guardFailed: 0 });
  const doc = await measured(() => call(bBase, 'GET', `/personal_docs/${ANA.user}`, { as: ANA }));
  assert.equal(doc, { status: 200, statements: 1, oneRoundTrip: 1, guardFailed: 0 });
  const docPath = `/personal_docs/${ANA.user}/one-trip-1/one-trip-doc`;
  const upload = await measured(() => call(bBase, 'POST', docPath, { as: ANA, raw: Buffer.from('%PDF-1.4 one trip'), headers: { 'content-type': 'application/pdf' } }));
  assert.equal(upload, { status: 201, statements: 1, oneRoundTrip: 1, guardFailed: 0 });
  const described = await measured(() => call(bBase, 'PATCH', docPath, { as: ANA, body: { description: 'scan' } }));
  assert.equal(described, { status: 200, statements: 1, oneRoundTrip: 1, guardFailed: 0 });
  console.log(`  [one round trip] read, listing, create, merge, documents, upload, metadata: 1 statement each`);
});

t('a listing\'s first statement sends no row over its share of LISTING_BATCH_BYTES: a large page ends it, the cursor sends the rest, whole and in order', async () => {
  const idsOf = async () => (await a.db.pool.query<{ id: string }>(`SELECT id FROM pols WHERE book = $1 ORDER BY id`, [ANA.user])).rows.map((r) => r.id);
  const listed = async () => {
    const r = await call(bBase, 'GET', `/pols/${ANA.user}`, { as: ANA });
    return { ...r, ids: (listedOf(r.json) ?? r.json).map((p: { id: string }) => p.id) };
  };
  try {
    checkouts = 0;
    assert.equal((await listed()).ids, await idsOf());
    assert.is(checkouts, 0, 'a book of small pages: the first statement is all of it');
    // A page of 100,000 bytes between small ones, then one that sorts first.
    await a.db.pool.query(`INSERT INTO pols (id, book, data) VALUES ('size-1', $1, '{"id": "size-1"}'), ('size-2', $1, jsonb_build_object('id', 'size-2', 'note', repeat('x', 100000))), ('size-3', $1, '{"id": "size-3"}')`, [ANA.user]);
    await warm(ANA, `/people/${ANA.user}`);
    let r: Awaited<ReturnType<typeof listed>> | undefined;
    checkouts = 0;
    const middle = await measured(async () => (r = await listed()));
    assert.equal(r!.ids, await idsOf());
    assert.equal([middle.status, middle.oneRoundTrip, middle.statements], [200, 1, 1]);
    assert.ok(checkouts >= 1, 'then a cursor');
    await a.db.pool.query(`INSERT INTO pols (id, book, data) VALUES ('0-size-first', $1, jsonb_build_object('id', '0-size-first', 'note', repeat('y', 100000)))`, [ANA.user]);
    checkouts = 0;
    const first = await measured(async () => (r = await listed()));
    assert.equal(r!.ids, await idsOf());
    assert.is(r!.ids[0], '0-size-first');
    assert.equal([first.status, first.oneRoundTrip], [200, 1]);
    assert.ok(checkouts >= 1, 'the cursor reads from the start');
    assert.ok(r!.text.includes('y'.repeat(100000)), 'the large first page is sent whole');
  } finally {
    await a.db.pool.query(`DELETE FROM pols WHERE id IN ('size-1', 'size-2', 'size-3', '0-size-first')`);
  }
});

t('a password changed through A: B refuses the old password on the very next read and write, which change nothing', async () => {
  await warm(ANA, `/people/${ANA.user}`);
  assert.is((await call(a.base, 'PATCH', `/people/${ANA.user}`, { as: ANA, body: { password: 'changed-on-a-1' } })).status, 200);
  const read = await measured(() => call(bBase, 'GET', `/people/${ANA.user}`, { as: ANA }));
  assert.equal([read.status, read.guardFailed], [401, 1]);
  await warm({ ...ANA, password: 'changed-on-a-1' }, `/people/${ANA.user}`);
  assert.is((await call(a.base, 'PATCH', `/people/${ANA.user}`, { as: { ...ANA, password: 'changed-on-a-1' }, body: { password: 'changed-on-a-2' } })).status, 200);
  const write = await measured(() => call(bBase, 'POST', `/pols/${ANA.user}/one-trip-stale`, { as: { ...ANA, password: 'changed-on-a-1' }, body: { summary: 'stale' } }));
  assert.equal([write.status, write.guardFailed], [401, 1]);
  assert.equal((await a.db.pool.query(`SELECT id FROM pols WHERE id = 'one-trip-stale'`)).rows, [], 'the guarded write did not happen');
  ANA.password = 'changed-on-a-2';
  // An upload too: its bytes reach the statement, which stores nothing.
  await warm(ANA, `/people/${ANA.user}`);
  assert.is((await call(a.base, 'PATCH', `/people/${ANA.user}`, { as: ANA, body: { password: 'changed-on-a-3' } })).status, 200);
  const upload = await measured(() => call(bBase, 'POST', `/personal_docs/${ANA.user}/one-trip-1/one-trip-stale-doc`, {
    as: ANA, raw: Buffer.from('stale bytes'), headers: { 'content-type': 'text/plain' },
  }));
  ANA.password = 'changed-on-a-3';
  assert.equal([upload.status, upload.guardFailed], [401, 1]);
  assert.equal((await a.db.pool.query(`SELECT id FROM personal_docs WHERE id = 'one-trip-stale-doc'`)).rows, [], 'the guarded upload stored nothing');
});

t('roles changed through A: B applies them on the very next listing', async () => {
  await warm(CAMERON, '/people');
  assert.is((await call(a.base, 'PATCH', `/people/${CAMERON.user}`, { as: ROOT, body: { roles: ['end_user'] } })).status, 200);
  const list = await measured(() => call(bBase, 'GET', '/people', { as: CAMERON }));
  assert.equal([list.status, list.guardFailed], [403, 1]);
  assert.is((await call(a.base, 'PATCH', `/people/${CAMERON.user}`, { as: ROOT, body: { roles: ['end_user', 'health_professional'] } })).status, 200);
  assert.is((await call(bBase, 'GET', '/people', { as: CAMERON })).status, 200, 'and back');
});

t('a deactivation, and a role change made in SQL: B applies each on the very next request', async () => {
  await warm(CAMERON, `/people/${ANA.user}`);
  await a.db.pool.query(`UPDATE people SET data = data || '{"roles": ["end_user"]}'::jsonb WHERE id = $1`, [CAMERON.user]);
  const sqlRoles = await measured(() => call(bBase, 'GET', `/people/${ANA.user}`, { as: CAMERON }));
  assert.equal([sqlRoles.status, sqlRoles.guardFailed], [403, 1]);
  await a.db.pool.query(`UPDATE people SET data = data || '{"roles": ["end_user", "health_professional"]}'::jsonb WHERE id = $1`, [CAMERON.user]);
  await warm(CAMERON, `/people/${ANA.user}`);
  assert.is((await call(a.base, 'PATCH', `/people/${CAMERON.user}`, { as: ROOT, body: { active: false } })).status, 200);
  const off = await measured(() => call(bBase, 'GET', `/people/${ANA.user}`, { as: CAMERON }));
  assert.equal([off.status, off.guardFailed], [401, 1]);
  await a.db.pool.query(`UPDATE people SET data = data || '{"active": true}'::jsonb WHERE id = $1`, [CAMERON.user]);
  await warm(CAMERON, `/people/${ANA.user}`);
  await a.db.pool.query(`UPDATE people SET data = jsonb_set(data, '{password}', to_jsonb('$2b$10$' || repeat('a', 53))) WHERE id = $1`, [CAMERON.user]);
  const sqlPassword = await measured(() => call(bBase, 'GET', `/people/${ANA.user}`, { as: CAMERON }));
  assert.equal([sqlPassword.status, sqlPassword.guardFailed], [401, 1]);
});

t('a lockout: 10 failures through A lock the pair, and B answers 429 to the right password it verified before', async () => {
  await warm(ROOT, `/people/${ROOT.user}`);
  for (let i = 0; i < 10; i++) assert.is((await call(a.base, 'GET', '/login', { as: { ...ROOT, password: `wrong-${i}` } })).status, 401);
  const locked = await measured(() => call(bBase, 'GET', `/people/${ROOT.user}`, { as: ROOT }));
  assert.equal([locked.status, locked.guardFailed], [429, 1]);
});

t('with SINGLE_ROUND_TRIP = False every request reads the login first (the two-round-trip path of the bench)', async () => {
  const w = await startHttpServer({ ...a.config, singleRoundTrip: false }, a.db.url, createLogger('silent'));
  try {
    const base = `http://127.0.0.1:${w.address.port}`;
    for (let i = 0; i < 3; i++) assert.is((await call(base, 'GET', `/people/${ANA.user}`, { as: ANA })).status, 200);
    assert.equal(w.services.paths, { oneRoundTrip: 0, guardFailed: 0 });
  } finally {
    await w.close(1000);
  }
});

t.run();
