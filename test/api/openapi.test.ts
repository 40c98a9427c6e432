// openapi.json against the server it describes: GET /openapi.json serves it; every
// route the server registers (lib/routes.ts, the change feed's, the subscriptions')
// is a documented operation and every documented operation a route; every code of the
// error catalogue is in the document under its status; and the validator that
// test/helpers/http.ts runs on every response really refuses what the document does
// not say (an undocumented status, a body or header that differs, another media type).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA } from '../helpers/http.js';
import { validateResponse, OPENAPI_PATH, type CheckedResponse } from '../helpers/openapi.js';
import { apiRoutes, type Route } from '../../lib/routes.js';
import { passwordPages } from '../../lib/pages/password.js';
import { createCsrf } from '../../lib/pages/csrf.js';
import { loadConfig } from '../../lib/config.js';
import { changesRoutes } from '../../lib/changes/handlers.js';
import { subscriptionRoutes } from '../../lib/subscriptions/handlers.js';
import { createDestinations, systemResolver } from '../../lib/subscriptions/destination.js';
import { errors, HttpError } from '../../lib/http/errors.js';

interface Doc { paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>; components: { schemas: { ErrorCode: { enum: string[]; description: string } } } }
const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Doc;

const ROUTES = apiRoutes(passwordPages(createCsrf('a secret of the test, long enough')), loadConfig(undefined, {}));

const t = suite('openapi');
let s: TestServer;

t.before(async () => { s = await startServer(); });
t.after(async () => { await s.close(); });

t('GET /openapi.json is public and serves the file as it is, with an ETag (304 on If-None-Match); HEAD too', async () => {
  const r = await call(s.base, 'GET', '/openapi.json');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'application/json; charset=utf-8');
  assert.ok(r.bytes.equals(readFileSync(OPENAPI_PATH)), 'the file, byte for byte');
  assert.is(r.json.openapi, '3.1.0');
  const etag = String(r.headers.etag);
  assert.is((await call(s.base, 'GET', '/openapi.json', { headers: { 'if-none-match': etag } })).status, 304);
  const head = await call(s.base, 'HEAD', '/openapi.json');
  assert.equal([head.status, head.text, head.headers['content-length']], [200, '', String(r.bytes.length)]);
});

t('GET /docs renders every operation of the document as a page, with no script and nothing from elsewhere', async () => {
  const r = await call(s.base, 'GET', '/docs');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'text/html; charset=utf-8');
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of ['get', 'post', 'patch', 'delete']) if (item[m]) assert.match(r.text, `<code>${m.toUpperCase()} ${path}</code>`);
  }
  assert.match(r.text, '<code>HASH_MISMATCH</code>');
  assert.not.match(r.text, /<script|https?:\/\/(?!127\.0\.0\.1)/);
  assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
});

/** The server's routes as the document names them: `/people/:id` is `/people/{id}`. */
function serverOperations(): Set<string> {
  const extra: Route[] = [
    ...changesRoutes({ pool: undefined as never, reads: undefined as never, hub: undefined as never, settings: undefined as never }),
    ...subscriptionRoutes({ allowHttp: false, maxPerOwner: 20, destinations: createDestinations({ allowHosts: [], resolve: systemResolver }), wake: () => undefined }),
  ];
  const ops = new Set<string>();
  for (const route of [...ROUTES, ...extra]) ops.add(`${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
  // The pages' assets are served by sirv (lib/pages/static.ts), before the router.
  ops.add('GET /static/{asset}');
  return ops;
}

t('every route of the server is a documented operation, and every operation a route, public exactly where acl is null', () => {
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of ['get', 'post', 'patch', 'delete', 'put']) if (item[m]) documented.add(`${m.toUpperCase()} ${path}`);
  }
  const server = serverOperations();
  assert.equal([...server].filter((o) => !documented.has(o)), [], 'routes missing from openapi.json');
  assert.equal([...documented].filter((o) => !server.has(o)), [], 'operations the server does not have');
  for (const route of ROUTES) {
    const item = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]!;
    const op = item[route.method.toLowerCase()]!;
    const isPublic = Array.isArray(op.security) && op.security.length === 0;
    assert.is(isPublic, route.acl === null, `${route.method} ${route.path}: public in the document exactly when the route is`);
  }
});

t('every code of lib/http/errors.ts is in the document, with its status, and nothing else', () => {
  const catalogue = new Map<string, number>();
  for (const make of Object.values(errors) as Array<(...args: never[]) => HttpError>) {
    const err = (make as (...args: unknown[]) => HttpError)('x', 'y');
    catalogue.set(err.code, err.status);
  }
  assert.equal([...catalogue.keys()].sort(), [...doc.components.schemas.ErrorCode.enum].sort());
  for (const [code, status] of catalogue) assert.ok(doc.components.schemas.ErrorCode.description.includes(`${code} ${status}`), `${code} is ${status}`);
});

/** A response that is as the document says, changed by `change`, must be refused. */
function refuses(change: Partial<CheckedResponse>, why: RegExp): void {
  const ok: CheckedResponse = { method: 'GET', path: '/people/ESPGNU777ORG', status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, text: '{"id":"ESPGNU777ORG","name":"Ana"}' };
  validateResponse(ok, false);
  assert.throws(() => validateResponse({ ...ok, ...change }, false), why);
}

t('the validator refuses what the document does not say', async () => {
  refuses({ status: 418 }, /status 418 is not documented/);
  refuses({ text: '{"id":"ESPGNU777ORG","password":"$2b$12$x"}' }, /does not match/);
  refuses({ text: '{"id":7,"name":"an id that is no string"}' }, /does not match/);
  refuses({ headers: { 'content-type': 'text/html' } }, /Content-Type text\/html is not documented/);
  refuses({ status: 404, text: '{"error":"Person not found","code":"NO_SUCH_CODE"}' }, /does not match/);
  refuses({ status: 404, text: '{"error":"Person not found","code":"FORBIDDEN"}' }, /does not match/);
  refuses({ method: 'POST', status: 201 }, /required header Location is missing/);
  refuses({ method: 'PUT', status: 200 }, /405 is documented/);
  refuses({ path: '/nothing/here' }, /404 is documented/);
  refuses({ method: 'HEAD' }, /a body where none may be/);
  refuses({ path: '/people', text: '[{"id":"A"}' }, /not JSON/);
  refuses({ path: '/people', headers: { 'content-type': 'application/x-ndjson' }, text: '{"id":"A"}\n{"password":"x","id":"B"}\n' }, /line 2/);
  // Both listing shapes, and NDJSON, are what the document says.
  for (const [type, text] of [['application/json', '[[{"id":"A"}],[{"id":"B"}]]'], ['application/json', '[{"id":"A"}]'], ['application/x-ndjson', '{"id":"A"}\n']]) {
    validateResponse({ method: 'GET', path: '/people?limit=2', status: 200, headers: { 'content-type': type }, text }, false);
  }
  // And the real server's answers are, through call().
  assert.is((await call(s.base, 'GET', `/people/${ANA.user}`, { as: ANA })).status, 200);
});

t.run();
