// The HTML pages without a browser: the index and its static assets, the password
// form's ACL, CSRF refusals (nothing changes), validation, escaping.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type Account } from '../helpers/http.js';
import { createCsrf, CSRF_TTL_MS } from '../../lib/pages/csrf.js';
import { escapeHtml } from '../../lib/pages/html.js';
import { PAGE_CSP } from '../../lib/http/headers.js';
import { PUBLIC_DIR } from '../../lib/pages/static.js';
import { staleCopies } from '../../server/compress-assets.js';

const SECRET = 'pages-test-secret';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const t = suite('pages');
let s: TestServer;
t.before(async () => { s = await startServer({ secretKey: SECRET, bodyLimit: 4096 }); });
t.after(async () => { await s.close(); });

/** The stored hash once `account` has signed in (the first sign-in replaces the demo's bcrypt hash). */
async function settledHash(account: Account): Promise<string> {
  assert.is((await call(s.base, 'GET', '/login', { as: account })).status, 200);
  return storedHash(account.user);
}

async function storedHash(id: string): Promise<string> {
  const { rows } = await s.db.pool.query<{ h: string }>(`SELECT data->>'password' AS h FROM people WHERE id = $1`, [id]);
  return rows[0]!.h;
}

/** Opens the form as `as` and returns the CSRF token it holds. */
async function formToken(as: Account, id: string): Promise<string> {
  const r = await call(s.base, 'GET', `/password/${id}`, { as });
  assert.is(r.status, 200);
  const m = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(r.text);
  assert.ok(m, 'the form holds a CSRF token');
  return m![1]!;
}

function post(as: Account | undefined, id: string, fields: Record<string, string>) {
  return call(s.base, 'POST', `/password/${id}`, { as, raw: new URLSearchParams(fields).toString(), headers: FORM });
}

t('GET / is the index page with our stylesheet and logo, a strict CSP, no external resource', async () => {
  const r = await call(s.base, 'GET', '/');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.is(r.headers['content-security-policy'], PAGE_CSP);
  assert.is(r.headers['cache-control'], 'no-cache');
  assert.match(r.text, '<meta name="viewport" content="width=device-width, initial-scale=1">');
  assert.match(r.text, '<link rel="stylesheet" href="/static/thalamus.css">');
  assert.match(r.text, '<img src="/static/logo.svg" alt="" width="40" height="40">');
  assert.match(r.text, '<h1>Thalamus</h1>');
  assert.match(r.text, '<code>GET /people/&lt;account&gt;</code>');
  assert.not.match(r.text, /(src|href)="(https?:)?\/\//);
  assert.not.match(r.text, /<script|style=/);
  const head = await call(s.base, 'HEAD', '/');
  assert.is(head.status, 200);
  assert.is(head.text, '');
  assert.is(head.headers['content-length'], String(Buffer.byteLength(r.text)));
});

t('static assets: ETag, 304 on If-None-Match, Cache-Control, type, CSP', async () => {
  for (const [name, type] of [['thalamus.css', 'text/css'], ['logo.svg', 'image/svg+xml']] as const) {
    const r = await call(s.base, 'GET', `/static/${name}`);
    assert.is(r.status, 200, name);
    assert.is(r.headers['content-type'], type);
    assert.is(r.headers['cache-control'], 'public,max-age=3600');
    assert.is(r.headers['content-security-policy'], PAGE_CSP);
    assert.is(r.headers['content-encoding'], undefined);
    assert.ok(r.bytes.equals(readFileSync(join(PUBLIC_DIR, name))), `${name} served as stored`);
    const etag = String(r.headers.etag);
    assert.match(etag, /^W\/"\d+-\d+"$/);
    const again = await call(s.base, 'GET', `/static/${name}`, { headers: { 'if-none-match': etag } });
    assert.is(again.status, 304);
    assert.is(again.text, '');
    const changed = await call(s.base, 'GET', `/static/${name}`, { headers: { 'if-none-match': 'W/"0-0"' } });
    assert.is(changed.status, 200);
  }
});

t('static assets: precompressed copies are up to date and served by Accept-Encoding', async () => {
  assert.equal(staleCopies(), []);
  const plain = readFileSync(join(PUBLIC_DIR, 'thalamus.css'));
  const br = await call(s.base, 'GET', '/static/thalamus.css', { headers: { 'accept-encoding': 'gzip, deflate, br' } });
  assert.is(br.status, 200);
  assert.is(br.headers['content-encoding'], 'br');
  assert.is(br.headers.vary, 'Accept-Encoding');
  assert.is(br.headers['content-type'], 'text/css');
  assert.ok(brotliDecompressSync(br.bytes).equals(plain));
  const gz = await call(s.base, 'GET', '/static/thalamus.css', { headers: { 'accept-encoding': 'gzip' } });
  assert.is(gz.headers['content-encoding'], 'gzip');
  assert.ok(gunzipSync(gz.bytes).equals(plain));
  assert.is.not(gz.headers.etag, br.headers.etag);
});

t('static assets: unknown files, dot paths and other methods are 404', async () => {
  for (const [method, path] of [['GET', '/static/nope.css'], ['GET', '/static/../package.json'], ['GET', '/static/'], ['POST', '/static/thalamus.css']]) {
    const r = await call(s.base, method!, path!);
    assert.is(r.status, 404, `${method} ${path}`);
    assert.equal(r.json, { error: 'No such endpoint', code: 'NO_ROUTE' });
  }
});

t('GET /password/:id: the form, accessible and not cacheable', async () => {
  const r = await call(s.base, 'GET', '/password/espgnu777org', { as: ANA });
  assert.is(r.status, 200);
  assert.is(r.headers['content-security-policy'], PAGE_CSP);
  assert.is(r.headers['cache-control'], 'no-store');
  assert.match(r.text, '<h1>Change your password</h1>');
  assert.match(r.text, '<form method="post" action="/password/ESPGNU777ORG" accept-charset="utf-8" novalidate>');
  assert.match(r.text, '<label for="password">New password</label>');
  assert.match(r.text, '<label for="confirm">Confirm the new password</label>');
  assert.match(r.text, 'aria-describedby="password-hint" autofocus>');
  assert.not.match(r.text, 'aria-invalid');
});

t('the password form: 401 without credentials, 403 for another person (ACL), nothing changed', async () => {
  const before = await settledHash(CAMERON);
  assert.is((await call(s.base, 'GET', '/password/ESPGNU777ORG')).status, 401);
  const other = await call(s.base, 'GET', '/password/ITAPYT999HON', { as: ANA });
  assert.is(other.status, 403);
  assert.equal(other.json, { error: 'Your roles do not allow this request', code: 'FORBIDDEN' });
  const token = createCsrf(SECRET).issue(ANA.user, 'ITAPYT999HON', before);
  const posted = await post(ANA, 'ITAPYT999HON', { csrf: token, password: 'taken-over-1', confirm: 'taken-over-1' });
  assert.is(posted.status, 403);
  assert.is(posted.json.code, 'FORBIDDEN');
  // Cameron's global role (health_professional) does not list "password"; his end_user role is not global.
  assert.is((await call(s.base, 'GET', '/password/ESPGNU777ORG', { as: CAMERON })).status, 403);
  assert.is(await storedHash('ITAPYT999HON'), before);
});

t('CSRF: no token, another account\'s token, an expired, forged or malformed token are 403 and change nothing', async () => {
  const before = await settledHash(ANA);
  const now = Date.now();
  const cases: Array<[string, Record<string, string>]> = [
    ['no token', {}],
    ['empty token', { csrf: '' }],
    ["Cameron's token from his own form", { csrf: await formToken(CAMERON, CAMERON.user) }],
    ["root's token for Ana's form", { csrf: await formToken(ROOT, ANA.user) }],
    ['a token for Ana acting on Cameron', { csrf: createCsrf(SECRET).issue(ANA.user, CAMERON.user, before) }],
    ['an expired token', { csrf: createCsrf(SECRET).issue(ANA.user, ANA.user, before, now - CSRF_TTL_MS - 1000) }],
    ['a token signed with another key', { csrf: createCsrf('another-secret').issue(ANA.user, ANA.user, before) }],
    ['a token for another stored hash', { csrf: createCsrf(SECRET).issue(ANA.user, ANA.user, `${before}x`) }],
    ['a malformed token', { csrf: 'not-a-token' }],
  ];
  for (const [what, fields] of cases) {
    const r = await post(ANA, ANA.user, { ...fields, password: 'brand-new-pass', confirm: 'brand-new-pass' });
    assert.is(r.status, 403, what);
    assert.is(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(r.text, 'This form has expired or was not issued to you, so nothing was changed.');
    assert.is(await storedHash(ANA.user), before, what);
  }
  assert.is((await call(s.base, 'GET', '/login', { as: ANA })).status, 200);
});

t('POST /password/:id takes a form only (415 for JSON) and is bounded by BODY_LIMIT (413)', async () => {
  const before = await settledHash(ANA);
  const csrf = await formToken(ANA, ANA.user);
  const json = await call(s.base, 'POST', `/password/${ANA.user}`, { as: ANA, body: { csrf, password: 'brand-new-pass', confirm: 'brand-new-pass' } });
  assert.is(json.status, 415);
  assert.equal(json.json, { error: 'The request body must be application/x-www-form-urlencoded', code: 'UNSUPPORTED_MEDIA_TYPE' });
  const big = await post(ANA, ANA.user, { csrf, password: 'x'.repeat(5000), confirm: 'x' });
  assert.is(big.status, 413);
  assert.is(big.json.code, 'BODY_TOO_LARGE');
  assert.is(await storedHash(ANA.user), before);
});

t('invalid passwords are shown in the form, tied to their field, and change nothing', async () => {
  const before = await settledHash(ANA);
  const csrf = await formToken(ANA, ANA.user);
  const differ = await post(ANA, ANA.user, { csrf, password: 'first-password', confirm: 'second-password' });
  assert.is(differ.status, 400);
  assert.match(differ.text, '<title>Error: Change your password · Thalamus</title>');
  assert.match(differ.text, '<div class="error-summary" role="alert" aria-labelledby="error-summary-title">');
  assert.match(differ.text, '<li><a href="#confirm">The two passwords differ; type the same password twice</a></li>');
  assert.match(differ.text, '<p class="error" id="confirm-error"><span class="visually-hidden">Error: </span>The two passwords differ; type the same password twice</p>');
  assert.match(differ.text, 'id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="8" aria-describedby="confirm-hint confirm-error" aria-invalid="true" autofocus>');
  assert.match(differ.text, 'aria-describedby="password-hint">');
  assert.not.match(differ.text, /first-password|second-password/);
  const short = await post(ANA, ANA.user, { csrf, password: 'short', confirm: 'short' });
  assert.is(short.status, 400);
  assert.match(short.text, '<p class="error" id="password-error"><span class="visually-hidden">Error: </span>The password must have at least 8 characters</p>');
  assert.match(short.text, 'aria-describedby="password-hint password-error" aria-invalid="true" autofocus>');
  const huge = await post(ANA, ANA.user, { csrf, password: 'a'.repeat(1025), confirm: 'a'.repeat(1025) });
  assert.is(huge.status, 400);
  assert.match(huge.text, 'The password must not exceed 1024 bytes');
  assert.is(await storedHash(ANA.user), before);
});

t('HTML escaping: an account id with markup characters (a row from before PERSON_ID_PATTERN) is escaped everywhere', async () => {
  const id = `X<B>"&'Y`;
  await s.db.pool.query(`INSERT INTO people (id, data) VALUES ($1, '{"name": "Escaping"}')`, [id]);
  const r = await call(s.base, 'GET', `/password/${encodeURIComponent(id)}`, { as: ROOT });
  assert.is(r.status, 200);
  assert.match(r.text, '<h1>Change the password of X&lt;B&gt;&quot;&amp;&#39;Y</h1>');
  assert.match(r.text, 'action="/password/X%3CB%3E%22%26&#39;Y"');
  assert.not.match(r.text, 'X<B>');
  const missing = await call(s.base, 'GET', `/password/${encodeURIComponent('<i>nobody')}`, { as: ROOT });
  assert.is(missing.status, 404);
  // Outside PERSON_ID_PATTERN an administrator's id is taken as stored, not upper-cased.
  assert.match(missing.text, 'There is no person <strong>&lt;i&gt;nobody</strong> in this federation.');
  assert.is(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

t('a valid change stores an argon2id hash with its audit row; the new password works at once, the old one is refused', async () => {
  const csrf = await formToken(ANA, ANA.user);
  const r = await post(ANA, ANA.user, { csrf, password: 'a new password', confirm: 'a new password' });
  assert.is(r.status, 200);
  assert.match(r.text, '<h1>Password changed</h1>');
  assert.match(await storedHash(ANA.user), /^\$argon2id\$/);
  assert.is((await call(s.base, 'GET', '/login', { as: { user: ANA.user, password: 'a new password' } })).status, 200);
  assert.is((await call(s.base, 'GET', '/login', { as: ANA })).status, 401);
  const { rows } = await s.db.pool.query(`SELECT actor, action, route, record_id, person, status, detail FROM audit WHERE route = '/password/:id'`);
  assert.equal(rows, [{ actor: ANA.user, action: 'update', route: '/password/:id', record_id: ANA.user, person: ANA.user, status: 200, detail: { changed: ['password'] } }]);
});

t('a CSRF token changes a password once: reused, or issued before a change made elsewhere, it is refused', async () => {
  const me = { user: ANA.user, password: 'a new password' };
  const csrf = await formToken(me, ANA.user);
  const stale = await formToken(me, ANA.user);
  assert.is((await post(me, ANA.user, { csrf, password: 'second new password', confirm: 'second new password' })).status, 200);
  const now = { user: ANA.user, password: 'second new password' };
  const hash = await storedHash(ANA.user);
  for (const [what, token] of [['the same token again', csrf], ['a token issued before the change', stale]] as const) {
    const again = await post(now, ANA.user, { csrf: token, password: 'third new password', confirm: 'third new password' });
    assert.is(again.status, 403, what);
    assert.match(again.text, 'This form has expired or was not issued to you, so nothing was changed.');
    assert.is(await storedHash(ANA.user), hash, what);
  }
  // A change through the API spends the tokens of open forms too.
  const open = await formToken(now, ANA.user);
  assert.is((await call(s.base, 'PATCH', `/people/${ANA.user}`, { as: now, body: { password: 'changed by the API' } })).status, 200);
  const api = { user: ANA.user, password: 'changed by the API' };
  assert.is((await post(api, ANA.user, { csrf: open, password: 'third new password', confirm: 'third new password' })).status, 403);
  assert.is((await call(s.base, 'GET', '/login', { as: api })).status, 200);
  // Another person's password needs account administration: root may, with the form's token.
  const cameron = await formToken(ROOT, CAMERON.user);
  assert.is((await post(ROOT, CAMERON.user, { csrf: cameron, password: 'set by root 1', confirm: 'set by root 1' })).status, 200);
  assert.is((await call(s.base, 'GET', '/login', { as: { user: CAMERON.user, password: 'set by root 1' } })).status, 200);
});

t('CSRF tokens: shared SECRET_KEY is accepted across processes, an empty one is per process', () => {
  const token = createCsrf('k1').issue('A', 'B', 'h');
  assert.ok(createCsrf('k1').verify(token, 'A', 'B', 'h'));
  assert.not.ok(createCsrf('k2').verify(token, 'A', 'B', 'h'));
  assert.not.ok(createCsrf('k1').verify(token, 'B', 'A', 'h'));
  assert.not.ok(createCsrf('k1').verify(token, 'A', 'B', 'h2'), 'bound to the stored hash');
  assert.not.ok(createCsrf('k1').verify(token, 'A', 'B', null));
  // A character inside the signature (the last one of base64url may only carry padding bits).
  const at = token.length - 8;
  assert.not.ok(createCsrf('k1').verify(token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1), 'A', 'B', 'h'));
  assert.not.ok(createCsrf('k1').verify(token, 'A', 'B', 'h', Date.now() + CSRF_TTL_MS + 1));
  assert.is(CSRF_TTL_MS, 10 * 60_000);
  const random = createCsrf('');
  assert.ok(random.verify(random.issue('A', 'A', null), 'A', 'A', null));
  assert.not.ok(createCsrf('').verify(random.issue('A', 'A', null), 'A', 'A', null));
});

t.run();
