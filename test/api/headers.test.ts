// Security headers on every response, including errors and answers to broken HTTP.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA } from '../helpers/http.js';
import { API_CSP, PAGE_CSP } from '../../lib/http/headers.js';

const t = suite('security headers');
let s: TestServer;
t.before(async () => { s = await startServer(); });
t.after(async () => { await s.close(); });

function assertCommon(h: Record<string, unknown>, what: string): void {
  assert.is(h['x-content-type-options'], 'nosniff', what);
  assert.is(h['x-frame-options'], 'DENY', what);
  assert.match(String(h['content-security-policy']), /frame-ancestors 'none'/, what);
  assert.is(h['strict-transport-security'], undefined, what);
}

t('API answers: nosniff, no-store, a CSP that allows nothing', async () => {
  for (const [method, path, as] of [['GET', '/login', ANA], ['GET', '/people/ESPGNU777ORG', ANA], ['GET', '/login', undefined],
    ['GET', '/no/such/endpoint', undefined], ['PUT', '/login', undefined], ['GET', '/pols/ESPGNU777ORG', ANA]] as const) {
    const r = await call(s.base, method, path, { as });
    assertCommon(r.headers, `${method} ${path}`);
    assert.is(r.headers['cache-control'], 'no-store', `${method} ${path}`);
    assert.is(r.headers['content-security-policy'], API_CSP, `${method} ${path}`);
  }
});

t('the HTML index page has a strict CSP of its own', async () => {
  const r = await call(s.base, 'GET', '/');
  assert.is(r.status, 200);
  assertCommon(r.headers, 'GET /');
  assert.is(r.headers['content-security-policy'], PAGE_CSP);
  assert.not.match(PAGE_CSP, /unsafe|script-src/);
});

t('a request that is not HTTP gets the headers too', async () => {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(s.worker.address.port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    let out = '';
    socket.on('data', (d) => { out += d; });
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /\r\nX-Content-Type-Options: nosniff\r\n/);
  assert.match(text, /\r\nX-Frame-Options: DENY\r\n/);
});

t.run();
