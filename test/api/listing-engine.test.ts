// The listing engine of lib/db/listing without HTTP (issue 21, item 5): a resource's plan
// is data that the engine turns into its statements and reads; the first rows in one
// statement under the guard, the rest from cursors; a pause and its resumption; a signal
// that aborts mid-read; and the standby choice as the guard's own property.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import sql from 'sql-template-tag';
import { createDatabase, type TestDatabase } from '../helpers/server.js';
import { createPool, closePool } from '../../lib/db/pool.js';
import { sourceOf, type ListingPlan } from '../../lib/db/listing/plan.js';
import { FIRST_ROWS } from '../../lib/db/listing/first.js';
import { ListingReader } from '../../lib/db/listing/reader.js';
import { GuardFailed, UNGUARDED } from '../../lib/db/run.js';
import { principalGuard } from '../../lib/auth/guard.js';
import type pg from 'pg';

const t = suite('listing engine');
let db: TestDatabase;
let pool: pg.Pool;
t.before(async () => {
  db = await createDatabase();
  await db.pool.query(`CREATE TABLE items (id varchar PRIMARY KEY, data jsonb)`);
  await db.pool.query(`INSERT INTO items SELECT 'I' || lpad(g::text, 4, '0'), jsonb_build_object('n', g) FROM generate_series(1, 300) g`);
  pool = createPool({ url: db.url, size: 3 });
});
t.after(async () => {
  await closePool(pool);
  await db.drop();
});

const ITEMS: ListingPlan = { table: 'items', json: 'data::text', where: [] };
const busy = () => pool.totalCount - pool.idleCount;

/** Waits until no connection is checked out (the last one ends with a COMMIT after the rows were delivered). */
async function settled(ms = 1000): Promise<void> {
  const start = Date.now();
  while (busy() !== 0) {
    if (Date.now() - start > ms) assert.unreachable(`${busy()} connection(s) still out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every row of `reader`, with the batches' sizes. */
async function readAll(reader: ListingReader): Promise<{ ids: string[]; batches: number[] }> {
  const ids: string[] = [];
  const batches: number[] = [];
  let rows = await reader.first();
  for (;;) {
    batches.push(rows.length);
    for (const r of rows) ids.push(String(r.id));
    if (reader.done) return { ids, batches };
    rows = await reader.next();
  }
}

t('a plan is data: its statements come from the engine, the first rows only under a guard', () => {
  const plain = sourceOf(pool, ITEMS, 65_000);
  assert.is(plain.first, undefined, 'no guard, no first statement: cursors read everything');
  assert.is(plain.sql.text, 'SELECT id, data::text AS j FROM items ');
  const guarded = sourceOf(pool, { ...ITEMS, where: [sql`id > ${'I0100'}`], guard: UNGUARDED }, 65_000);
  assert.ok(guarded.first, 'a first statement');
  assert.ok(guarded.first!.text.includes(`LIMIT $3`), guarded.first!.text);
  // Each first row at most bytes / (FIRST_ROWS + 1) long, the limit FIRST_ROWS + 1.
  assert.equal(guarded.first!.values, [1000, 'I0100', FIRST_ROWS + 1]);
});

t('the standby choice is the guard\'s: the full path may read a standby, a principal\'s guard never', () => {
  assert.is(UNGUARDED.standby, true);
  const guard = principalGuard({ principal: { id: 'X', roles: [] }, hash: 'h', rolesJson: 'null', lockoutAddress: '127.0.0.1' });
  assert.is(guard.standby === true, false);
});

t('a short listing is read by its first statement alone', async () => {
  const reader = new ListingReader(sourceOf(pool, { ...ITEMS, where: [sql`id <= ${'I0010'}`], guard: UNGUARDED }, 256 * 1024), { rows: 500, chars: 256 * 1024, timeout: 0 });
  const { ids, batches } = await readAll(reader);
  assert.is(ids.length, 10);
  assert.equal(batches, [10]);
  assert.is(busy(), 0);
});

t('a long one: its first rows in one statement, the rest from cursors after the last of them, each row once in order', async () => {
  const reader = new ListingReader(sourceOf(pool, { ...ITEMS, guard: UNGUARDED }, 256 * 1024), { rows: 100, chars: 256 * 1024, timeout: 0 });
  const { ids, batches } = await readAll(reader);
  assert.is(batches[0], FIRST_ROWS + 1);
  assert.is(ids.length, 300);
  assert.equal(ids, [...new Set(ids)].sort());
  await settled();
});

t('a guard that no longer holds: GuardFailed, nothing read', async () => {
  const failed = { ctes: [], ok: sql`false` };
  const reader = new ListingReader(sourceOf(pool, { ...ITEMS, guard: failed }, 256 * 1024), { rows: 500, chars: 256 * 1024, timeout: 0 });
  try {
    await reader.first();
    assert.unreachable('read under a failed guard');
  } catch (err) {
    assert.instance(err, GuardFailed);
  }
});

t('a pause gives the connection back; the listing resumes after the row given', async () => {
  const turns: boolean[] = [];
  const reader = new ListingReader(sourceOf(pool, ITEMS, 256 * 1024), {
    rows: 50, chars: 256 * 1024, timeout: 0, turn: async (resume) => { turns.push(resume); return () => undefined; },
  });
  const first = await reader.first();
  const second = await reader.next();
  assert.is(busy(), 1, 'the cursor holds its connection');
  await reader.pause(second[9]!.id);
  assert.is(busy(), 0, 'given back');
  const rest: string[] = [];
  while (!reader.done) for (const r of await reader.next()) rest.push(String(r.id));
  const ids = [...first, ...second.slice(0, 10)].map((r) => String(r.id)).concat(rest);
  assert.equal(ids, Array.from({ length: 300 }, (_, i) => `I${String(i + 1).padStart(4, '0')}`));
  assert.equal(turns, [false, true], 'the second session takes a resuming turn');
  await settled();
});

t('a signal aborted during a read rejects with its reason at once and drops the connection', async () => {
  const left = new AbortController();
  const reason = new Error('left');
  const slow: ListingPlan = { table: 'items CROSS JOIN (SELECT pg_sleep(2)) z', json: 'data::text', where: [] };
  const reader = new ListingReader(sourceOf(pool, slow, 256 * 1024), { rows: 100, chars: 256 * 1024, timeout: 0, signal: left.signal });
  const reading = reader.first();
  await new Promise((r) => setTimeout(r, 300));
  assert.is(busy(), 1, 'the read is in flight');
  const start = Date.now();
  left.abort(reason);
  reader.abort();
  try {
    await reading;
    assert.unreachable('the read went on');
  } catch (err) {
    assert.is(err, reason);
  }
  assert.ok(Date.now() - start < 100, `${Date.now() - start} ms`);
  assert.is(busy(), 0, 'the connection is not waited for');
  // Nothing more is taken once aborted.
  try {
    await new ListingReader(sourceOf(pool, ITEMS, 256 * 1024), { rows: 100, chars: 256 * 1024, timeout: 0, signal: left.signal }).first();
    assert.unreachable('read after the signal aborted');
  } catch (err) {
    assert.is(err, reason);
  }
  assert.is(busy(), 0);
});

t.run();
