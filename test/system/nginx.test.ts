// nginx/thalamus.conf as shipped, run by the real nginx (a foreground child with a
// temporary prefix, ports and certificate templated in) in front of a real worker:
// HTTPS, HTTP/2, request ids, a person, a new page, a CORS preflight and the body limit;
// HSTS, the port-80 redirect, and nginx's own refusals (413, 429, 502) in the API's JSON.
import * as assert from 'uvu/assert';
import { suiteNeeding, TOOLS } from '../helpers/tools.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startServer, type TestServer } from '../helpers/server.js';
import { ANA, CAMERON, basic } from '../helpers/http.js';
import { makeCert, handshake, type Cert } from '../helpers/tls.js';
import { freePort } from '../helpers/cluster.js';
import { NGINX, siteFor, startNginx, type Nginx } from '../helpers/nginx.js';
import { errors } from '../../lib/http/errors.js';

const t = suiteNeeding('nginx: TLS reverse proxy', [TOOLS.nginx, TOOLS.openssl]);
let dir: string;
let s: TestServer;
let cert: Cert;
let nginx: Nginx | undefined;
let base: string;
let port: number;
let httpPort: number;
let dispatcher: Agent;

/** The shipped site on loopback ports (its own rate limit kept), in front of `upstream`. */
const siteOn = (upstream: number, tls: number, plain?: number) => siteFor(tls, cert, [`127.0.0.1:${upstream}`], '20r/s', plain);

/** The JSON nginx answers must be the catalogue's: same code for the same status. */
function isCatalogued(status: number, body: { error?: unknown; code?: unknown }): void {
  const known = Object.values(errors).map((make) => (make as (...a: unknown[]) => { status: number; code: string })('x', 'y')).find((e) => e.code === body.code);
  assert.ok(known, `code ${String(body.code)} is in lib/http/errors.ts`);
  assert.is(known!.status, status);
  assert.type(body.error, 'string');
}

t.before(async () => {
  if (!NGINX) return;
  dir = mkdtempSync(join(tmpdir(), 'thalamus-nginx-'));
  cert = makeCert(dir, 'site');
  s = await startServer();
  port = await freePort();
  httpPort = await freePort();
  nginx = await startNginx(dir, siteOn(s.worker.address.port, port, httpPort), port);
  base = `https://127.0.0.1:${port}`;
  dispatcher = new Agent({ connect: { ca: cert.pem, servername: 'localhost' } });
});

t.after(async () => {
  if (!NGINX) return;
  await dispatcher?.close();
  await nginx?.stop();
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

t('nginx is installed', () => {
  if (!NGINX) process.stdout.write('  [nginx] SKIPPED: no nginx binary (/usr/sbin/nginx); .ci/run installs it\n');
  assert.ok(NGINX, 'nginx is required (apt-get install nginx)');
});

t('TLS 1.2 and 1.3 with HTTP/2 offered; TLS 1.1 refused', async () => {
  if (!NGINX) return;
  assert.equal((await handshake(port, { alpn: ['h2', 'http/1.1'] })).alpn, 'h2');
  assert.is((await handshake(port, { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
  assert.ok((await handshake(port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).error);
});

t('GET a person through https, with the client request id passed both ways', async () => {
  if (!NGINX) return;
  const res = await request(`${base}/people/ESPGNU777ORG`, { headers: { authorization: basic(CAMERON), 'x-request-id': 'nginx-test-1' }, dispatcher });
  assert.is(res.statusCode, 200);
  assert.is(res.headers['x-request-id'], 'nginx-test-1');
  const person = (await res.body.json()) as Record<string, unknown>;
  assert.is(person.name, 'Ana');
  assert.not.ok('password' in person);
  const anon = await request(`${base}/login`, { dispatcher });
  await anon.body.dump();
  assert.is(anon.statusCode, 401);
  assert.match(String(anon.headers['x-request-id']), /^[0-9a-f]{32}$/, 'nginx made the id');
});

t('POST a page through https: 201 and the Location', async () => {
  if (!NGINX) return;
  const page = { id: 'NGINX-PAGE-1', page_type: 'medical', summary: 'through nginx' };
  const res = await request(`${base}/pols/ESPGNU777ORG/NGINX-PAGE-1`, { method: 'POST', body: JSON.stringify(page), headers: { authorization: basic(ANA) }, dispatcher });
  assert.is(res.statusCode, 201);
  assert.is(res.headers.location, '/pols/ESPGNU777ORG/NGINX-PAGE-1');
  assert.equal(await res.body.json(), { ...page, book: 'ESPGNU777ORG' });
});

t('a CORS preflight through https', async () => {
  if (!NGINX) return;
  const res = await request(`${base}/pols/ESPGNU777ORG/NGINX-PAGE-1`, {
    method: 'OPTIONS', dispatcher,
    headers: { origin: 'https://portal.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.is(res.statusCode, 204);
  assert.is(await res.body.text(), '');
  assert.is(res.headers['access-control-allow-origin'], '*');
  assert.is(res.headers['access-control-allow-methods'], 'GET, HEAD, POST, PATCH, DELETE, OPTIONS');
  assert.is(res.headers['access-control-allow-headers'], 'authorization, content-type');
});

t('a body over client_max_body_size (BODY_LIMIT, 1 MiB) is 413 at nginx', async () => {
  if (!NGINX) return;
  const body = JSON.stringify({ summary: 'x'.repeat(1024 * 1024 + 10) });
  const res = await request(`${base}/pols/ESPGNU777ORG/NGINX-BIG`, { method: 'POST', body, headers: { authorization: basic(ANA) }, dispatcher });
  assert.is(res.statusCode, 413);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const json = await res.body.json() as { error: string; code: string };
  assert.is(json.code, 'BODY_TOO_LARGE');
  isCatalogued(413, json);
  assert.is(res.headers['strict-transport-security'], 'max-age=31536000');
});

t('HSTS on every answer; plain HTTP on the redirect port is sent to https with method and path kept (308)', async () => {
  if (!NGINX) return;
  const ok = await request(`${base}/people/ESPGNU777ORG`, { headers: { authorization: basic(ANA) }, dispatcher });
  await ok.body.dump();
  assert.is(ok.statusCode, 200);
  assert.is(ok.headers['strict-transport-security'], 'max-age=31536000');
  const plain = await request(`http://127.0.0.1:${httpPort}/people/ESPGNU777ORG?x=1`, { method: 'POST', body: '{}' });
  await plain.body.dump();
  assert.is(plain.statusCode, 308);
  assert.is(plain.headers.location, `https://127.0.0.1:${port}/people/ESPGNU777ORG?x=1`);
});

t("Thalamus not answering: nginx's 502 is the API's JSON, with Retry-After", async () => {
  if (!NGINX) return;
  const down = join(dir, 'down');
  mkdirSync(down);
  const tls = await freePort();
  const refusing = await freePort(); // nothing listens there
  const other = await startNginx(down, siteOn(refusing, tls), tls);
  try {
    const res = await request(`https://127.0.0.1:${tls}/people/ESPGNU777ORG`, { headers: { authorization: basic(ANA) }, dispatcher });
    assert.is(res.statusCode, 502);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.is(res.headers['retry-after'], '5');
    assert.is(res.headers['strict-transport-security'], 'max-age=31536000');
    const json = await res.body.json() as { error: string; code: string };
    assert.is(json.code, 'SERVER_UNAVAILABLE');
    isCatalogued(502, json);
  } finally {
    await other.stop();
  }
});

t('a 10 MiB document upload (DOCUMENT_LIMIT) passes nginx; a larger one is 413 at nginx', async () => {
  if (!NGINX) return;
  const bytes = randomBytes(10 * 1024 * 1024);
  const path = '/personal_docs/ESPGNU777ORG/5cc70e53-5378-427f-b3d2-84cab4da04a2/NGINX-DOC';
  const res = await request(`${base}${path}`, { method: 'POST', body: bytes, headers: { authorization: basic(ANA), 'content-type': 'application/pdf' }, dispatcher });
  const meta = await res.body.json() as { size: number; hash: string };
  assert.is(res.statusCode, 201);
  assert.equal([meta.size, meta.hash], [bytes.length, createHash('sha512').update(bytes).digest('hex')]);
  const big = await request(`${base}${path}-2`, { method: 'POST', body: Buffer.alloc(12 * 1024 * 1024), headers: { authorization: basic(ANA), 'content-type': 'application/pdf' }, dispatcher });
  assert.is(big.statusCode, 413);
  assert.is((await big.body.json() as { code: string }).code, 'BODY_TOO_LARGE');
});

// Last: it empties the address's allowance (20 a second, bursts of 100).
t("a burst past the rate limit: nginx's 429 is the API's JSON, with Retry-After; the rest reach Thalamus", async () => {
  if (!NGINX) return;
  const burst = new Agent({ connect: { ca: cert.pem, servername: 'localhost' }, connections: 200 });
  try {
    const answers = await Promise.all(Array.from({ length: 200 }, async () => {
      const res = await request(`${base}/healthz-not-a-route`, { dispatcher: burst });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    }));
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length >= 50, `${limited.length} of 200 refused by the rate limit`);
    for (const a of limited) {
      assert.match(String(a.headers['content-type']), /^application\/json/);
      assert.is(a.headers['retry-after'], '1');
      assert.is(a.headers['strict-transport-security'], 'max-age=31536000');
      const json = JSON.parse(a.text) as { error: string; code: string };
      assert.is(json.code, 'TOO_MANY_REQUESTS');
      isCatalogued(429, json);
    }
    assert.ok(answers.every((a) => a.status === 429 || a.status === 404), JSON.stringify([...new Set(answers.map((a) => a.status))]));
  } finally {
    await burst.close();
  }
});

t.run();
