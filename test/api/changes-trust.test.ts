// Issue 20, second pass at trust, on the change feed: attacks run against the real
// server and PostgreSQL as the tester ran them.
// - Finding 3: a stream or long poll outlives a revocation (password changed, roles
//   removed, deactivated): it must end before the next change is delivered, with a
//   final `close` event (SSE) or a 401 RIGHTS_REVOKED (longpoll); streams have a maximum
//   lifetime.
// - Finding 6: SSE requests reset at random moments must leak no follower, and one
//   account (or address) cannot take every stream slot of a worker.
// - Finding 14: an end user's positions (last_seq, heartbeat ids, a 410's newest_seq)
//   must not move with other people's writes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { startServer, type TestServer } from '../helpers/server.js';
import { basic, call, ANA, CAMERON, ROOT, type Account } from '../helpers/http.js';
import { openSse, changesOf, type SseClient } from '../helpers/sse.js';
import { hashPassword } from '../../lib/auth/passwords.js';
import { sleep, within } from '../helpers/cluster.js';

/** Health professionals made in SQL (global: they follow every change of the federation). */
async function addProfessionals(s: TestServer, ids: string[], password: string): Promise<Account[]> {
  const hash = await hashPassword(password);
  for (const id of ids) {
    await s.db.pool.query(`INSERT INTO people (id, data) VALUES ($1::varchar, jsonb_build_object('id', $1::varchar, 'name', 'Pro', 'active', true,
      'roles', '["health_professional"]'::jsonb, 'password', $2::text))`, [id, hash]);
  }
  return ids.map((user) => ({ user, password }));
}

// ---------------------------------------------------------------------------------------
// Finding 3: revocations end streams and long polls before the next delivery.

const revoke = suite('changes: a revocation ends streams and long polls');
let s: TestServer;
revoke.before(async () => {
  s = await startServer({ changesHeartbeatMs: 60_000 });
  await s.worker.services.hub.ready;
});
revoke.after(async () => { await s.close(); });

const REVOCATIONS: Array<[string, Record<string, unknown>]> = [
  ['password changed', { password: 'a-new-password-2026' }],
  ['roles removed', { roles: [] }],
  ['deactivated', { active: false }],
];

let n = 0;
for (const [what, body] of REVOCATIONS) {
  revoke(`SSE, ${what}: the stream ends with a close event (revoked) before the next change is delivered`, async () => {
    const [pro] = await addProfessionals(s, [`PROSSE${++n}`], 'professional-password');
    const sse = await openSse(s.base, '/changes?feed=eventsource&include_docs=true&since=now', { as: pro });
    assert.is(sse.status, 200);
    try {
      const before = `rv-sse-${n}-before`;
      assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/${before}`, { as: ROOT, body: { summary: 'seen while allowed' } })).status, 201);
      await sse.until('the change made while allowed', (e) => changesOf(e).some((c) => c.id === before));
      const seenBefore = sse.events.length;
      assert.is((await call(s.base, 'PATCH', `/people/${pro!.user}`, { as: ROOT, body })).status, 200);
      assert.is.not((await call(s.base, 'GET', '/login', { as: pro })).status, 200, 'the old credentials no longer log in');
      const after = `rv-sse-${n}-after`;
      assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/${after}`, { as: ROOT, body: { summary: 'secret text written after the revocation' } })).status, 201);
      await sse.until('the close event or the next change', (e) => e.some((x) => x.event === 'close') || changesOf(e).some((c) => c.id === after), 5000);
      const later = sse.events.slice(seenBefore);
      const delivered = changesOf(later);
      process.stdout.write(`  [revoke] SSE, ${what}: ${delivered.length} change(s) delivered after the revocation (${delivered.map((c) => `${c.kind} ${c.id}`).join(', ') || 'none'})\n`);
      assert.equal(delivered, [], 'nothing delivered after the revocation');
      const close = later[later.length - 1]!;
      assert.is(close.event, 'close');
      assert.equal(JSON.parse(close.data), { reason: 'revoked', last_seq: Number(close.id) });
      await within(sse.ended, 2000, 'the stream\'s end');
    } finally {
      sse.close();
    }
  });

  revoke(`longpoll, ${what}: the waiting request answers 401 RIGHTS_REVOKED, not the next change`, async () => {
    const [pro] = await addProfessionals(s, [`PROLP${++n}`], 'professional-password');
    const start = (await call(s.base, 'GET', '/changes?since=now', { as: pro })).json.last_seq as number;
    const waiting = call(s.base, 'GET', `/changes?feed=longpoll&include_docs=true&since=${start}&timeout=10000`, { as: pro });
    await sleep(300);
    assert.is((await call(s.base, 'PATCH', `/people/${pro!.user}`, { as: ROOT, body })).status, 200);
    assert.is((await call(s.base, 'POST', `/pols/${ANA.user}/rv-lp-${n}`, { as: ROOT, body: { summary: 'secret text written after the revocation' } })).status, 201);
    const r = await waiting;
    process.stdout.write(`  [revoke] longpoll, ${what}: ${r.status}, ${r.json?.results?.length ?? 0} change(s) delivered after the revocation\n`);
    assert.is(r.status, 401);
    assert.equal(r.json, { error: 'This account\'s password, roles or active state changed (or it was locked out) while the request was open; nothing more is sent. Authenticate again', code: 'RIGHTS_REVOKED' });
    assert.is(r.headers['www-authenticate'], 'Basic realm="Thalamus", charset="UTF-8"');
  });
}

revoke('a stream in which nothing happens ends within a heartbeat of a revocation; lockout counts too', async () => {
  const quick = await startServer({ changesHeartbeatMs: 300, lockoutPairFailures: 3 });
  try {
    await quick.worker.services.hub.ready;
    const [a, b] = await addProfessionals(quick, ['PROIDLE1', 'PROIDLE2'], 'professional-password');
    const idle = await openSse(quick.base, '/changes?feed=eventsource&since=now', { as: a });
    const locked = await openSse(quick.base, '/changes?feed=eventsource&since=now', { as: b });
    try {
      assert.is((await call(quick.base, 'PATCH', `/people/${a!.user}`, { as: ROOT, body: { password: 'a-new-password-2026' } })).status, 200);
      for (let i = 0; i < 3; i++) assert.is((await call(quick.base, 'GET', '/login', { as: { user: b!.user, password: 'wrong-password' } })).status, 401);
      const began = Date.now();
      await within(Promise.all([idle.ended, locked.ended]), 3000, 'the idle streams\' end');
      for (const sse of [idle, locked]) {
        const last = sse.events[sse.events.length - 1]!;
        assert.equal([last.event, JSON.parse(last.data).reason], ['close', 'revoked']);
      }
      assert.ok(Date.now() - began < 2000, `ended ${Date.now() - began} ms later`);
    } finally {
      idle.close();
      locked.close();
    }
  } finally {
    await quick.close();
  }
});

revoke('CHANGES_STREAM_MAX_SECONDS: a stream ends with a close event (lifetime) once it has lasted that long', async () => {
  const short = await startServer({ changesHeartbeatMs: 200, changesStreamMaxSeconds: 1 });
  try {
    await short.worker.services.hub.ready;
    const began = Date.now();
    const sse = await openSse(short.base, '/changes?feed=eventsource&since=now', { as: ROOT });
    try {
      await within(sse.ended, 4000, 'the stream\'s end');
    } finally {
      sse.close();
    }
    const lasted = Date.now() - began;
    const last = sse.events[sse.events.length - 1]!;
    assert.equal([last.event, JSON.parse(last.data).reason], ['close', 'lifetime']);
    assert.ok(lasted >= 1000 && lasted < 3000, `lasted ${lasted} ms`);
  } finally {
    await short.close();
  }
});
revoke.run();

// ---------------------------------------------------------------------------------------
// Finding 6: aborted requests leak nothing; one account or address cannot take every slot.

const slots = suite('changes: stream slots');
let t: TestServer;
slots.before(async () => {
  t = await startServer({ changesMaxStreams: 40, changesStreamsPerAccount: 5, changesStreamsPerAddress: 20, changesHeartbeatMs: 200 });
  await t.worker.services.hub.ready;
});
slots.after(async () => { await t.close(); });

/** Sends `GET path` on a raw socket and resets the connection (TCP RST) after `ms`. */
function resetAfter(base: string, path: string, headers: Record<string, string>, ms: number): Promise<void> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
      socket.write(lines.join('\r\n'));
      setTimeout(() => { socket.resetAndDestroy(); resolve(); }, ms);
    });
    socket.on('error', () => resolve());
  });
}

slots('300 SSE and longpoll requests reset at random moments leave no follower behind; others still get a stream', async () => {
  const accounts = await addProfessionals(t, Array.from({ length: 10 }, (_, i) => `PRORESET${i}`), 'professional-password');
  for (const a of accounts) assert.is((await call(t.base, 'GET', '/login', { as: a })).status, 200);
  const hub = t.worker.services.hub;
  const baseline = hub.size();
  const paths = ['/changes?feed=eventsource&since=now', '/changes?feed=eventsource', '/changes?feed=longpoll&since=now&timeout=60000', '/changes?feed=eventsource&include_docs=true&since=0'];
  let sent = 0;
  for (let wave = 0; wave < 10; wave++) {
    await Promise.all(Array.from({ length: 30 }, (_, i) => {
      const a = accounts[(wave * 30 + i) % accounts.length]!;
      sent++;
      // Different addresses, so that the per-address limit does not turn most away.
      return resetAfter(t.base, paths[i % paths.length]!, { authorization: basic(a), 'x-forwarded-for': `198.51.100.${i}` }, Math.floor(Math.random() * 25));
    }));
  }
  await sleep(1000);
  const leaked = hub.size() - baseline;
  process.stdout.write(`  [slots] ${sent} requests reset at random moments (0-25 ms): ${leaked} follower(s) left behind in the hub (${hub.size()} followers, ${baseline} before)\n`);
  assert.is(leaked, 0);
  const other = await call(t.base, 'GET', '/changes?feed=longpoll&since=now&timeout=100', { as: CAMERON });
  assert.is(other.status, 200, `another user's longpoll: ${other.text}`);
  // The accounts' own slots came back too: two of them open their five streams each.
  const opened: SseClient[] = [];
  try {
    for (const a of accounts.slice(0, 2)) {
      for (let i = 0; i < 5; i++) opened.push(await openSse(t.base, '/changes?feed=eventsource&since=now', { as: a, headers: { 'x-forwarded-for': `198.51.100.${200 + opened.length}` } }));
    }
    assert.equal(opened.map((c) => c.status), Array(10).fill(200));
  } finally {
    for (const c of opened) c.close();
  }
});

slots('one account holds at most CHANGES_STREAMS_PER_ACCOUNT streams; others keep theirs', async () => {
  const [greedy] = await addProfessionals(t, ['PROGREEDY1'], 'professional-password');
  const held: SseClient[] = [];
  try {
    let refused: { status: number; body: string } | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const sse = await openSse(t.base, '/changes?feed=eventsource&since=now', { as: greedy, headers: { 'x-forwarded-for': `192.0.2.${i}` } });
      if (sse.status === 200) held.push(sse);
      else { await sse.ended; refused = { status: sse.status, body: sse.body() }; }
    }
    process.stdout.write(`  [slots] one account opened ${held.length} streams of the worker's 40 before a refusal\n`);
    assert.is(held.length, 5);
    assert.is(refused!.status, 429);
    assert.equal(JSON.parse(refused!.body), { error: 'This account already follows as many change feeds on this worker as CHANGES_STREAMS_PER_ACCOUNT allows; close one first', code: 'TOO_MANY_OWN_STREAMS' });
    const longpoll = await call(t.base, 'GET', '/changes?feed=longpoll&since=now&timeout=100', { as: greedy });
    assert.equal([longpoll.status, longpoll.json.code, longpoll.headers['retry-after']], [429, 'TOO_MANY_OWN_STREAMS', '5'], 'a longpoll counts as a stream');
    assert.is((await call(t.base, 'GET', '/changes?limit=1', { as: greedy })).status, 200, 'a normal page holds no slot');
    const other = await call(t.base, 'GET', '/changes?feed=longpoll&since=now&timeout=100', { as: CAMERON });
    assert.is(other.status, 200);
    // A slot comes back when its stream ends.
    held.pop()!.close();
    await sleep(200);
    const again = await openSse(t.base, '/changes?feed=eventsource&since=now', { as: greedy });
    assert.is(again.status, 200);
    held.push(again);
  } finally {
    for (const c of held) c.close();
  }
});

slots('one address holds at most CHANGES_STREAMS_PER_ADDRESS streams', async () => {
  const accounts = await addProfessionals(t, Array.from({ length: 5 }, (_, i) => `PROADDR${i}`), 'professional-password');
  const from = { 'x-forwarded-for': '203.0.113.7' };
  const held: SseClient[] = [];
  try {
    for (const a of accounts.slice(0, 4)) {
      for (let i = 0; i < 5; i++) {
        const sse = await openSse(t.base, '/changes?feed=eventsource&since=now', { as: a, headers: from });
        assert.is(sse.status, 200);
        held.push(sse);
      }
    }
    const refused = await openSse(t.base, '/changes?feed=eventsource&since=now', { as: accounts[4], headers: from });
    await refused.ended;
    assert.is(refused.status, 429);
    assert.equal(JSON.parse(refused.body()), { error: 'This address already follows as many change feeds on this worker as CHANGES_STREAMS_PER_ADDRESS allows; close one first', code: 'TOO_MANY_OWN_STREAMS' });
    const elsewhere = await openSse(t.base, '/changes?feed=eventsource&since=now', { as: accounts[4], headers: { 'x-forwarded-for': '203.0.113.8' } });
    assert.is(elsewhere.status, 200, 'the same account from another address');
    held.push(elsewhere);
  } finally {
    for (const c of held) c.close();
  }
});
slots.run();

// ---------------------------------------------------------------------------------------
// Finding 14: an end user's positions do not move with other people's writes.

const positions = suite('changes: an end user\'s positions');
let u: TestServer;
positions.before(async () => {
  u = await startServer({ changesHeartbeatMs: 100 });
  await u.worker.services.hub.ready;
});
positions.after(async () => { await u.close(); });

const lastSeq = async (as: Account, query: string) => {
  const r = await call(u.base, 'GET', `/changes?${query}`, { as });
  assert.is(r.status, 200, `${query}: ${r.text}`);
  return r.json.last_seq as number;
};

/** Writes by others than Ana: an institution, a page in Cameron's book, Cameron himself. */
async function othersWrite(i: number): Promise<void> {
  assert.is((await call(u.base, 'PATCH', '/institutions/ITMIGH001', { as: ROOT, body: { activity: i } })).status, 200);
  assert.is((await call(u.base, 'POST', `/pols/${CAMERON.user}/others-${i}`, { as: ROOT, body: {} })).status, 201);
  assert.is((await call(u.base, 'PATCH', `/people/${CAMERON.user}`, { as: ROOT, body: { activity: i } })).status, 200);
}

positions('others\' writes move none of an end user\'s positions: last_seq, since=now, longpoll, heartbeats, the 410', async () => {
  const mine = await lastSeq(ANA, 'since=now');
  const sse = await openSse(u.base, `/changes?feed=eventsource&since=${mine}`, { as: ANA });
  const headBefore = await lastSeq(ROOT, 'since=now');
  try {
    for (let i = 0; i < 5; i++) await othersWrite(i);
    const head = await lastSeq(ROOT, 'since=now');
    assert.is(head, headBefore + 15, 'root sees the federation move');
    const page = await call(u.base, 'GET', `/changes?since=${mine}`, { as: ANA });
    const longpoll = await call(u.base, 'GET', `/changes?feed=longpoll&since=${mine}&timeout=300`, { as: ANA });
    const now = await lastSeq(ANA, 'since=now');
    const ahead = await call(u.base, 'GET', `/changes?since=${head}`, { as: ANA });
    await sleep(400); // heartbeats
    process.stdout.write(`  [positions] others wrote 15 changes: Ana's last_seq ${mine} -> ${page.json.last_seq} (normal), ${longpoll.json.last_seq} (longpoll), ${now} (since=now); `
      + `heartbeat id ${sse.lastId() ?? 'none'}; since=<head> answers ${ahead.status} ${ahead.json?.newest_seq !== undefined ? `newest_seq ${ahead.json.newest_seq}` : ''}\n`);
    assert.equal(page.json, { results: [], last_seq: mine });
    assert.equal(longpoll.json, { results: [], last_seq: mine });
    assert.is(now, mine);
    assert.is(sse.lastId(), undefined, 'no heartbeat carried an id');
    assert.ok(sse.comments >= 2, 'heartbeats came');
    assert.is(ahead.status, 410, 'a position beyond Ana\'s own is not hers');
    assert.equal(ahead.json, {
      error: `since=${head} is beyond every change this account may follow (newest ${mine}): it comes from another database or another account; read the records in full, then follow from since=now`,
      code: 'CHANGES_EXPIRED', newest_seq: mine,
    });
    // Her own write moves her position, to that change and no further.
    assert.is((await call(u.base, 'POST', `/pols/${ANA.user}/own-1`, { as: ANA, body: {} })).status, 201);
    await othersWrite(99);
    const own = await call(u.base, 'GET', `/changes?since=${mine}`, { as: ANA });
    assert.equal(own.json.results.map((c: { id: string }) => c.id), ['own-1']);
    assert.is(own.json.last_seq, own.json.results[0].seq);
    await sse.until('her change', (e) => changesOf(e).length === 1);
    assert.is(sse.lastId(), String(own.json.last_seq));
    // A global reader is shown the head as before: it may read every change anyway.
    assert.is(await lastSeq(CAMERON, 'since=now'), await lastSeq(ROOT, 'since=now'));
    assert.is(await lastSeq(CAMERON, `since=${head}&kinds=units`), await lastSeq(ROOT, 'since=now'));
  } finally {
    sse.close();
  }
});
positions.run();
