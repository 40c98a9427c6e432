// Bodies that take a worker's memory are read a bounded number at a time: large JSON
// bodies (over 64 KiB, or chunked) at most LARGE_BODIES per worker and half of them per
// account, so one account's stalled senders cannot make a worker hold more, nor keep
// the others out. (Uploads have their own turns: uploads.test.ts.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Readable } from 'node:stream';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, type Account } from '../helpers/http.js';
import { LARGE_BODIES } from '../../lib/http/admission.js';

const t = suite('admission of large bodies');
let s: TestServer;

t.before(async () => {
  s = await startServer({ listingQueueTimeout: 500 });
  // Verified (and their bcrypt hashes upgraded) before anything is timed: otherwise, on a
  // loaded machine, the held PATCHes could still be checking the password when the one
  // over the limit comes, and it would take a turn before them.
  for (const who of [ANA, CAMERON]) assert.is((await call(s.base, 'GET', '/login', { as: who })).status, 200);
});
t.after(async () => { await s.close(); });

/** A chunked PATCH whose body stops halfway until `go` resolves. */
function stalled(as: Account, field: string, go: Promise<void>) {
  const body = Readable.from((async function* () { yield Buffer.from(`{"${field}": `); await go; yield Buffer.from('"done"}'); })());
  return call(s.base, 'PATCH', `/people/${as.user}`, { as, raw: body, headers: { 'content-type': 'application/json' } });
}

t('one account holds at most half the turns; its next large body waits, then 503 BODIES_BUSY; small bodies and other accounts go on', async () => {
  let release: () => void = () => undefined;
  const go = new Promise<void>((resolve) => { release = resolve; });
  const held = Array.from({ length: LARGE_BODIES / 2 }, (_, i) => stalled(ANA, `stalled_${i}`, go));
  // Observed now: should an assertion below fail, the server's close must not end the process before uvu reports it.
  held.forEach((h) => h.catch(() => undefined));
  await new Promise((r) => setTimeout(r, 300));

  const began = Date.now();
  const over = await stalled(ANA, 'over', Promise.resolve());
  assert.is(over.status, 503);
  assert.equal(over.json, { error: 'Too many large request bodies are being read (yours, or on this server); try again shortly', code: 'BODIES_BUSY' });
  assert.is(over.headers['retry-after'], '1');
  assert.ok(Date.now() - began >= 450, 'it waited for a turn first');

  // A small body (with its length) needs no turn; another account still finds one.
  const small = await call(s.base, 'PATCH', `/people/${ANA.user}`, { as: ANA, body: { small: 'yes' } });
  assert.is(small.status, 200);
  assert.is((await stalled(CAMERON, 'other', Promise.resolve())).status, 200);

  release();
  const done = await Promise.all(held);
  assert.equal(done.map((r) => r.status), done.map(() => 200));
  const { rows } = await s.db.pool.query<{ over: unknown; stalled: unknown }>(`SELECT data->'over' AS over, data->'stalled_0' AS stalled FROM people WHERE id = $1`, [ANA.user]);
  assert.equal(rows[0], { over: null, stalled: 'done' }, 'the refused body changed nothing; the held ones were stored');
});

t.run();
