// Hostile input: thousands of generated requests against the running server, from a
// seeded PRNG (FUZZ_SEED=<n> replays a run). No answer may be a 5xx, the server must
// still answer afterwards, and the records may differ from the starting snapshot only
// where a request succeeded in writing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { request, Agent } from 'undici';
import { startServer, type TestServer } from '../helpers/server.js';
import { basic, call, ROOT, ANA, CAMERON } from '../helpers/http.js';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 5000);
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 60_000);
const CONCURRENCY = 8;
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, fast and good enough to drive a fuzzer. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number) => rand() < p;

const PREFIXES = ['people', 'pols', 'personal_docs', 'domiciliary-units', 'institutions', 'audit', 'login', 'password', '', 'metrics', '.git'];
const KNOWN_IDS = ['ESPGNU777ORG', 'ITAPYT999HON', 'ARGBUE111FAV', 'espgnu777org', 'FUZZ1', 'FUZZ2', 'fuzz-page-1', 'fuzz-page-2', 'fuzz-du-1', 'fuzz-inst-1'];
const HOSTILE_IDS = [
  '.', '..', '%2e%2e', '%2E%2E%2F%2E%2E%2Fetc%2Fpasswd', '..%2f..%2f', '%00', 'a%00b', '%ff%fe', '%ED%A0%80', '%C0%AF', '%zz', '%', '%%',
  "'%20OR%201=1--", "1;DROP%20TABLE%20people", "x'%3BDELETE%20FROM%20people%3B--", '%27%22%5C', '$1', '%24%7B7*7%7D', '__proto__', 'constructor',
  '%F0%9F%92%A9', 'null', 'undefined', '-1', '0x10', '%20', '%0d%0aSet-Cookie:%20x=1', '%E2%80%AE', '*', '~', 'a.b.c', '...json',
  // Lookalikes of a demo account: a trailing space, a Cyrillic Е, a zero-width space, a long s.
  'ESPGNU777ORG%20', '%D0%95SPGNU777ORG', 'ESPGNU777ORG%E2%80%8B', 'e%C5%BFpgnu777org', 'ESPGNU777ORG%C2%A0',
];

function segment(): string {
  const r = rand();
  if (r < 0.45) return pick(KNOWN_IDS);
  if (r < 0.8) return pick(HOSTILE_IDS);
  if (r < 0.9) return 'X'.repeat(200 + int(8000));
  return encodeURIComponent(String.fromCharCode(...Array.from({ length: 1 + int(12) }, () => int(0x3000))));
}

/** Real routes, so that many requests get past the router to auth, ACL and SQL. */
const SHAPES = [['people'], ['people', 1], ['pols', 1], ['pols', 1, 1], ['personal_docs', 1], ['personal_docs', 1, 1], ['personal_docs', 1, 1, 1],
  ['domiciliary-units'], ['domiciliary-units', 1], ['institutions'], ['institutions', 1], ['audit'], ['login']] as const;

function path(): string {
  let parts: string[];
  if (chance(0.6)) {
    parts = pick(SHAPES).map((x) => typeof x === 'string' ? x : segment());
  } else {
    parts = [pick(PREFIXES)];
    const depth = int(4);
    for (let i = 0; i < depth; i++) parts.push(segment());
  }
  let p = '/' + parts.join('/');
  if (chance(0.05)) p += '/';
  if (chance(0.05)) p = p.replace(/\//g, pick(['//', '/./', '/%2F']));
  if (chance(0.3)) {
    const q = ['limit', 'after', 'since', 'person', 'x'].map((k) => chance(0.4) ? `${k}=${pick(['1', '0', '-5', '1001', '1e3', 'abc', '%00', '2026-01-01', '99999999999999999999', pick(HOSTILE_IDS), 'X'.repeat(300)])}` : '').filter(Boolean);
    p += '?' + q.join('&') + (chance(0.1) ? '&limit=2&limit=3' : '');
  }
  return p;
}

const DEMO_ACCOUNTS = /ESPGNU777ORG|ITAPYT999HON|ARGBUE111FAV/i;

/**
 * A body that a write might accept, so some requests really change records. The demo
 * accounts keep their password, roles and active flag: the fuzzer logs in with them.
 */
function plausibleBody(target: string): Record<string, unknown> {
  const body: Record<string, unknown> = { name: pick(['Ana', 'Zoë', '', 'x'.repeat(100)]), note: `fuzz ${int(1e6)}` };
  if (chance(0.2)) body.active = pick([true, false, 'yes', null]);
  if (chance(0.15)) body.roles = pick([['end_user'], ['root'], 'root', [1], []]);
  if (chance(0.1)) body.password = pick(['short', 'long-enough-password', 12345678, null, '$2b$12$' + 'a'.repeat(53), '$2b$31$' + 'a'.repeat(53),
    `$argon2id$v=19$m=1048576,t=40,p=1$c29tZXNhbHRzb21lc2FsdA$${'A'.repeat(43)}`]);
  if (chance(0.1)) body.id = pick(KNOWN_IDS);
  if (chance(0.1)) body.book = pick([...KNOWN_IDS, 5]);
  if (chance(0.1)) body.nested = { a: [1, { b: '\u0000' }] };
  if (chance(0.05)) body.bad = '\ud800';
  if (DEMO_ACCOUNTS.test(target)) { delete body.password; delete body.roles; delete body.active; }
  return body;
}

function deepJson(depth: number): string {
  return chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

function body(target: string): string | Buffer | undefined {
  const r = rand();
  if (r < 0.45) return JSON.stringify(plausibleBody(target));
  if (r < 0.55) return pick(['{', '{"a":', '{"a":1,}', "{'a':1}", 'null', '[]', '"x"', '1', 'true', '', '{"a":1}{"b":2}', '\u0000', '{"a":"\\u0000"}', '{"a":NaN}',
    '{"a":1e400}', '{"a":-1e-400}', '{"a":123456789012345678901234567890}', '{"a":"\\ud800"}', '{"roles":["root"],"x":"="}']);
  if (r < 0.65) return deepJson(pick([65, 500, 20_000, 200_000]));
  if (r < 0.7) return Buffer.from(Array.from({ length: int(4096) }, () => int(256)));
  if (r < 0.73) return `{"a":"${'x'.repeat(1024 * 1024 + int(1024 * 1024))}"}`;
  return undefined;
}

function authorization(): string | undefined {
  const r = rand();
  if (r < 0.4) return basic(ROOT);
  if (r < 0.5) return basic(pick([ANA, CAMERON]));
  if (r < 0.55) return undefined;
  if (r < 0.57) return basic({ user: pick(KNOWN_IDS), password: 'wrong-password' });
  return pick([
    'Basic', 'Basic ', 'Basic !!!!', 'Basic ====', 'Basic ' + Buffer.from(':').toString('base64'), 'Basic ' + Buffer.from('nocolon').toString('base64'),
    'Basic ' + Buffer.from('\u0000:\u0000').toString('base64'), 'Basic ' + 'A'.repeat(9000), 'Bearer abc', 'basic ' + Buffer.from('ARGBUE111FAV:').toString('base64'),
    'Basic ' + Buffer.from("' OR 1=1 --:x").toString('base64'), 'Basic ' + Buffer.from([0xff, 0xfe, 0x3a, 0xc3]).toString('base64'), 'Digest username="x"',
  ]);
}

const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PATCH', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'TRACE', 'PROPFIND', 'get', 'FOO'];

interface Sent { method: string; path: string; status: number; json: unknown; raw?: boolean }

/** Raw requests for what an HTTP client library will not send. */
function rawRequest(): string | Buffer {
  const auth = `Authorization: ${basic(ROOT)}\r\n`;
  return pick<() => string | Buffer>([
    () => `GET /people/${'\u0000'} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    () => `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000 + int(80_000))}\r\nConnection: close\r\n\r\n`,
    () => `GET /login HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\nConnection: close\r\n\r\n`,
    () => `POST /pols/ESPGNU777ORG/raw-1 HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    () => `POST /people/RAW1 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
    () => `POST /people/RAW2 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 100\r\nConnection: close\r\n\r\n{"a":`,
    () => `POST /people/RAW3 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: -1\r\nConnection: close\r\n\r\n`,
    () => `G@T / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    () => `GET /login HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n`,
    () => `GET /login\r\n\r\n`,
    () => `GET /login HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from('ARGBUE111FAV:freedom').toString('base64')}\u0000\r\nConnection: close\r\n\r\n`,
    () => `GET /login HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rb\r\nConnection: close\r\n\r\n`,
    () => `${pick(['GET', 'POST', 'DELETE'])} /${pick(['people', 'pols/ESPGNU777ORG', 'domiciliary-units'])}/${pick(['..', '.', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '../../etc/passwd'])} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 2\r\nConnection: close\r\n\r\n{}`,
    () => `GET /login?${'q=1&'.repeat(5000 + int(20000))} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    () => `POST /institutions/raw-inst HTTP/1.1\r\nHost: x\r\n${auth}Expect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
    () => `GET /people/ESPGNU777ORG HTTP/1.1\r\nHost: x\r\n${auth}${auth}Connection: close\r\n\r\n`,
    () => `GET /people/ESPGNU777ORG HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
    () => `GET /people/%ED%A0%80 HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
    () => `GET /people/${'é'} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
    () => `GET /people/ESPGNU777ORG HTTP/1.1\r\nHost: x\r\n${auth}X-Forwarded-For: ${pick(['garbage', '::::', '1.2.3.4, , ,', '999.1.1.1', 'x'.repeat(5000)])}\r\nConnection: close\r\n\r\n`,
    () => `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`,
    () => Buffer.from(Array.from({ length: 1 + int(2000) }, () => int(256))),
    () => `PATCH /people/ESPGNU777ORG HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 20\r\nConnection: close\r\n\r\n{"name":"a"}garbage!`,
  ])();
}

function sendRaw(port: number, data: string | Buffer): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      // The final status, after any interim 1xx (100 Continue).
      const final = [...out.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1])).find((n) => n >= 200);
      resolve(final ?? (/^HTTP\/1\.[01] 1\d\d/.test(out) ? 100 : undefined));
    };
    const timer = setTimeout(done, 3000);
    // write, not end: a client that half-closes may not get its answer, and then the
    // outcome of a valid write would be unknown here.
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d) => { out += d.toString('latin1'); });
    socket.on('close', done);
    socket.on('error', () => undefined);
  });
}

type Snapshot = Map<string, string>;

async function snapshot(s: TestServer): Promise<Snapshot> {
  const { rows } = await s.db.pool.query<{ k: string; v: string }>(`
    SELECT 'people/' || id AS k, (COALESCE(data, '{}') - 'password')::text || COALESCE(data->>'password', '') AS v FROM people
    UNION ALL SELECT 'pols/' || id, book || COALESCE(data::text, '') FROM pols
    UNION ALL SELECT 'personal_docs/' || id, fedacct || pol || md5(COALESCE(document, '')) || COALESCE(data::text, '') FROM personal_docs
    UNION ALL SELECT 'dus/' || id, COALESCE(data::text, '') FROM dus
    UNION ALL SELECT 'institutions/' || id, COALESCE(data::text, '') FROM institutions`);
  return new Map(rows.map((r) => [r.k, r.v]));
}

/** The record a successful write touched, as a snapshot key. */
function touchedKey(sent: Sent): string | undefined {
  if (!['POST', 'PATCH', 'DELETE'].includes(sent.method) || sent.status < 200 || sent.status > 299) return undefined;
  // undici resolves dot segments (also %2e%2e) as a browser would, before sending.
  const parts = (sent.raw ? sent.path.split('?')[0]! : new URL(sent.path, 'http://x').pathname).split('/').slice(1).map((p) => decodeURIComponent(p));
  const table = { people: 'people', pols: 'pols', 'domiciliary-units': 'dus', institutions: 'institutions' }[parts[0]!];
  if (!table) return `unexpected/${sent.path}`;
  const id = table === 'pols' ? parts[2] : table === 'people' ? parts[1]!.replace(/[a-z]+/g, (m) => m.toUpperCase()) : parts[1];
  return `${table}/${id}`;
}

const t = suite('fuzz');
let s: TestServer;
// Lockout limits out of the way: this test is about input handling, not lockout.
t.before(async () => { s = await startServer({ lockoutPairFailures: 1_000_000, lockoutAccountFailures: 1_000_000, lockoutAddressFailures: 1_000_000 }); });
t.after(async () => { await s.close(); });

t('thousands of hostile requests: no 5xx, the server survives, only valid writes change records', async () => {
  console.log(`  fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  // First logins replace the demo's bcrypt hashes (a valid write); do them before the snapshot.
  for (const account of [ROOT, ANA, CAMERON]) assert.is((await call(s.base, 'GET', '/login', { as: account })).status, 200);
  const before = await snapshot(s);
  const agent = new Agent({ connections: CONCURRENCY, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const statuses = new Map<string, number>();
  const failures: string[] = [];
  const writes: Sent[] = [];
  let sent = 0;
  let raw = 0;
  let refusedByClient = 0;
  const start = Date.now();
  const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);

  const one = async () => {
    if (chance(0.06)) {
      const data = rawRequest();
      const status = await sendRaw(s.worker.address.port, data);
      raw++;
      sent++;
      count(status === undefined ? 'closed' : String(status));
      if (status !== undefined && status >= 500) failures.push(`raw ${JSON.stringify(String(data).slice(0, 120))} -> ${status}`);
      const line = /^(\w+) (\S+) HTTP/.exec(String(data));
      if (line && status) writes.push({ method: line[1]!, path: line[2]!, status, json: undefined, raw: true });
      return;
    }
    const method = pick(METHODS);
    const p = path();
    const headers: Record<string, string> = {};
    const auth = authorization();
    if (auth) headers.authorization = auth;
    if (chance(0.05)) headers['x-request-id'] = pick(['ok-id', 'x'.repeat(500), 'bad id', '../../']);
    if (chance(0.05)) headers['x-forwarded-for'] = pick(['1.2.3.4', 'nonsense', '1.2.3.4, 5.6.7.8', '::1', '']);
    if (chance(0.03)) headers['x-oversized'] = 'h'.repeat(17_000 + int(60_000));
    if (chance(0.05)) headers['content-type'] = pick(['text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x']);
    if (chance(0.03)) headers['content-encoding'] = pick(['gzip', 'br', 'identity', 'x']);
    if (chance(0.03)) headers['if-none-match'] = pick(['*', '"abc"', 'W/"x", "y"', 'x'.repeat(3000)]);
    if (chance(0.03)) headers.origin = pick(['https://evil.example', 'null', '*']);
    if (chance(0.04)) headers['sec-fetch-mode'] = pick(['navigate', 'no-cors', 'cors', 'same-origin', 'websocket', 'x']);
    if (chance(0.04)) headers['sec-fetch-site'] = pick(['cross-site', 'same-site', 'same-origin', 'none', '']);
    const b = ['POST', 'PATCH', 'PUT', 'DELETE'].includes(method.toUpperCase()) || chance(0.05) ? body(p) : undefined;
    try {
      const res = await request(s.base + p, { method: method as 'GET', headers, body: method === 'GET' || method === 'HEAD' ? undefined : b, dispatcher: agent });
      const text = await res.body.text();
      sent++;
      count(String(res.statusCode));
      if (res.statusCode >= 500) failures.push(`${method} ${p.slice(0, 200)} -> ${res.statusCode} ${text.slice(0, 200)}`);
      let json: unknown;
      try { json = JSON.parse(text); } catch { json = undefined; }
      if (touchedKey({ method, path: p, status: res.statusCode, json: undefined })) writes.push({ method, path: p, status: res.statusCode, json });
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      // undici refuses some of what we generate (bad header values); the server never saw those.
      if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_CHAR') { refusedByClient++; return; }
      // The server may close after refusing a huge header or body (431, 413): the socket closes under us.
      if (['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED'].includes(code)) { sent++; count('closed'); return; }
      failures.push(`${method} ${p.slice(0, 200)} -> client error ${code} ${(err as Error).message}`);
    }
  };

  const lanes = Array.from({ length: CONCURRENCY }, async () => {
    while (sent + refusedByClient < REQUESTS * 1.02 && sent < REQUESTS && Date.now() - start < BUDGET_MS) await one();
  });
  await Promise.all(lanes);
  await agent.close();
  const seconds = (Date.now() - start) / 1000;
  const touched = new Set(writes.map(touchedKey).filter(Boolean));
  console.log(`  fuzz: ${sent} requests (${raw} raw) in ${seconds.toFixed(1)} s, ${refusedByClient} refused by the client library, ${touched.size} records written by valid requests`);
  console.log(`  fuzz statuses: ${[...statuses.entries()].sort().map(([k, v]) => `${k}:${v}`).join(' ')}`);
  assert.equal(failures.slice(0, 20), [], `seed ${SEED}`);
  assert.ok(sent >= Math.min(REQUESTS, 5000) || Date.now() - start >= BUDGET_MS, `only ${sent} requests sent`);

  // Still alive, still correct.
  assert.is((await call(s.base, 'GET', '/login', { as: ROOT })).status, 200);

  // Records: unchanged except where a write succeeded.
  const after = await snapshot(s);
  assert.not.ok([...touched].some((k) => k?.startsWith('unexpected/')), [...touched].join(' '));
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
  const unexplained = changed.filter((k) => !touched.has(k));
  const written = writes.filter((w) => touchedKey(w)).map((w) => `${w.method} ${w.path.slice(0, 100)}`);
  assert.equal(unexplained, [], `seed ${SEED}; successful writes: ${written.join(', ')}`);
  console.log(`  fuzz: ${changed.length} records changed, all by successful writes`);
});

t.run();
