// The internals of pg and pg-cursor that lib/db relies on (issue 21, item 5): the listing
// engine's batch reader (lib/db/listing/batches.ts) cuts a read by destroying the socket
// under a client and counts rows from pg-cursor's 'row' event; lib/db/parts.ts writes a
// Bind message of its own through pg.Query's prepare(). Both packages are pinned to
// exact versions in package.json; this file fails when an upgrade changes what they
// rely on, against a real connection, so that the upgrade is a decision.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { ROOT } from '../../lib/config.js';
import { checkout, closePool, createPool } from '../../lib/db/pool.js';
import { bindPieces, ByteParts, PartsQuery } from '../../lib/db/parts.js';
import { ADMIN_URL } from '../helpers/server.js';
import { within } from '../helpers/cluster.js';

const t = suite('pg internals');
let pool: pg.Pool;
t.before(() => { pool = createPool({ url: ADMIN_URL, size: 3, applicationName: 'thalamus-test-internals' }); });
t.after(async () => { await closePool(pool); });

t('pg and pg-cursor are pinned to the exact versions installed', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  for (const name of ['pg', 'pg-cursor']) {
    const pinned = manifest.dependencies[name]!;
    assert.match(pinned, /^\d+\.\d+\.\d+$/, `${name} is pinned (${pinned})`);
    const installed = (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    assert.is(installed, pinned, `${name} installed`);
    assert.is(lock.packages[`node_modules/${name}`]?.version, pinned, `${name} in package-lock.json`);
  }
});

t('a checked-out client has its socket at client.connection.stream; destroying it fails what runs on it and the pool drops it', async () => {
  const out = await checkout(pool);
  const stream = (out.client as unknown as { connection: { stream: unknown } }).connection.stream;
  assert.ok(stream instanceof net.Socket, 'a net.Socket');
  const before = pool.totalCount;
  // A statement in flight when the socket goes: the reader races it with the checkout's failure.
  const running = out.client.query('SELECT pg_sleep(2)');
  running.catch(() => undefined);
  (stream as net.Socket).destroy();
  await within(out.orFailure(running).then(() => assert.unreachable('the statement finished'), () => undefined), 1000, 'the failure of a destroyed connection');
  assert.ok(out.failure, 'the checkout saw the connection fail');
  out.release(true);
  assert.is(pool.totalCount, before - 1, 'the client left the pool');
});

t("pg-cursor: client.query(cursor) submits it; 'row' is emitted for each row before read() resolves; a short read ends it; close() resolves", async () => {
  const out = await checkout(pool);
  try {
    await out.client.query('BEGIN READ ONLY');
    const cursor = new Cursor<{ id: number; j: string }>('SELECT g AS id, g::text AS j FROM generate_series(1, 5) g WHERE g > $1 ORDER BY g', [0]);
    assert.is(out.client.query(cursor), cursor, 'the cursor is its own submittable');
    const seen: number[] = [];
    const onRow = (row: { id: number; j: string }) => { seen.push(row.id); };
    cursor.on('row', onRow);
    const first = await cursor.read(3);
    assert.equal(first.map((r) => r.id), [1, 2, 3]);
    assert.equal(seen, [1, 2, 3], "'row' for each row of the read, before it resolved");
    assert.equal(first[0], { id: 1, j: '1' }, 'rows as objects of the selected columns');
    const rest = await cursor.read(3);
    assert.equal(rest.map((r) => r.id), [4, 5]);
    cursor.off('row', onRow);
    assert.equal(await cursor.read(3), [], 'nothing after the end');
    await within(cursor.close(), 2000, 'close()');
    await out.client.query('COMMIT');
  } finally {
    out.release();
  }
});

t("a read cut in its 'row' handler (the socket destroyed there) leaves a client the pool drops, and the next checkout works", async () => {
  const out = await checkout(pool);
  await out.client.query('BEGIN READ ONLY');
  const cursor = out.client.query(new Cursor<{ id: number; j: string }>("SELECT g AS id, repeat('x', 100000) AS j FROM generate_series(1, 50) g ORDER BY g"));
  let rows = 0;
  let cut!: () => void;
  const cutDone = new Promise<void>((resolve) => { cut = resolve; });
  cursor.on('row', () => {
    if (++rows === 2) { (out.client as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy(); cut(); }
  });
  const read = cursor.read(50);
  read.catch(() => undefined);
  await within(Promise.race([out.orFailure(read).catch(() => undefined), cutDone]), 5000, 'the cut read');
  const total = pool.totalCount;
  out.release(true);
  assert.ok(rows >= 2 && rows < 50, `${rows} rows before the cut`);
  assert.is(pool.totalCount, total - 1);
  const { rows: again } = await pool.query('SELECT 1 AS one');
  assert.equal(again, [{ one: 1 }]);
});

t('pg.Query.prototype.prepare() calls connection.bind() with the config parts.ts builds its Bind message from, inside a corked socket', async () => {
  const out = await checkout(pool);
  try {
    const conn = (out.client as unknown as { connection: { bind(c: unknown): void; stream: net.Socket } }).connection;
    assert.type(conn.stream.cork, 'function');
    assert.type((pg.Query.prototype as unknown as { prepare: unknown }).prepare, 'function');
    let seen: Parameters<typeof bindPieces>[0] | undefined;
    let corked = 0;
    const bind = conn.bind;
    conn.bind = function (config: Parameters<typeof bindPieces>[0]) { seen = config; corked = conn.stream.writableCorked; return bind.call(this, config); };
    try {
      await out.client.query({ text: 'SELECT $1::text AS a, $2::bytea AS b, $3::int AS c, $4::text AS d', values: ['é', Buffer.from([0, 1, 2]), 42, null] });
    } finally {
      conn.bind = bind;
    }
    assert.ok(seen, 'bind() was called');
    assert.type(seen!.valueMapper, 'function');
    assert.equal(seen!.values, ['é', Buffer.from([0, 1, 2]), 42, null]);
    assert.ok('portal' in seen! && 'statement' in seen! && 'binary' in seen!, 'portal, statement, binary');
    assert.ok(corked > 0, 'the socket is corked while the messages are written');
    // parts.ts' Bind message is byte for byte pg-protocol's for values without ByteParts.
    const protocol = createRequire(createRequire(import.meta.url).resolve('pg'))('pg-protocol') as { serialize: { bind(c: unknown): Buffer } };
    assert.equal(Buffer.concat(bindPieces(seen!)), protocol.serialize.bind(seen));
  } finally {
    out.release();
  }
});

t('a PartsQuery sends ByteParts as one bytea parameter, named statements too', async () => {
  const parts = new ByteParts([Buffer.from('abc'), Buffer.alloc(70_000, 7), Buffer.from([0, 255])]);
  const whole = Buffer.concat(parts.parts);
  for (const name of [undefined, 'thalamus_internals_parts']) {
    const config: pg.QueryConfig = { text: 'SELECT $1::bytea = $2::bytea AS same, octet_length($1::bytea) AS n, $3::text AS t', values: [parts, whole, 'ü'], name };
    const { rows } = await pool.query(new PartsQuery(config) as unknown as pg.QueryConfig);
    assert.equal(rows, [{ same: true, n: whole.length, t: 'ü' }]);
  }
});

t.run();
