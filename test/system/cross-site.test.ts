// Cross-site request forgery in a real browser (Debian's chromium through playwright-core):
// a browser signed in to Thalamus with Basic credentials visits another site, which
// posts to the JSON API with an auto-submitted text/plain form (whose field name
// spells a JSON body) or a no-cors fetch; a form on Thalamus's own origin does the same.
// None may change anything, nor may another site's multipart form upload a document.
// The portal's pattern (JSON, or an image upload, with Authorization, preflighted from
// another origin) must keep working in the same browser.
import * as assert from 'uvu/assert';
import { suiteNeeding, TOOLS } from '../helpers/tools.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ROOT, CAMERON } from '../helpers/http.js';
import { dumpRows } from '../helpers/rows.js';

const CHROMIUM = TOOLS.chromium.path ?? 'chromium';

const t = suiteNeeding('cross-site writes in a browser', [TOOLS.chromium]);
let s: TestServer;
let attacker: http.Server;
/** Another site: `localhost` is not the same site as Thalamus's `127.0.0.1`. */
let evil = '';
let profile = '';
let context: BrowserContext | undefined;
let page: Page;
/** What reached Thalamus from the browser: method, path, status. */
const seen: string[] = [];

const ESCALATION = { roles: ['root'], password: 'attacker-pass-1' };
const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';

/** The attacker's pages, served from another site. */
function attackerPage(target: string, kind: string): string {
  const json = JSON.stringify(ESCALATION).slice(0, -1); // ends inside the object: the form adds `,"x":"=..."}`
  const name = `${json},"x":"`.replace(/"/g, '&quot;');
  if (kind === 'form') {
    return `<!doctype html><body><form id="f" method="POST" enctype="text/plain" action="${target}/people/CSRFROOT1">
<input type="hidden" name="${name}" value='"}'></form><script>document.getElementById('f').submit()</script></body>`;
  }
  if (kind === 'fetch') {
    return `<!doctype html><body><script>
fetch(${JSON.stringify(`${target}/people/CSRFROOT2`)}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: ${JSON.stringify(JSON.stringify(ESCALATION))} })
  .then(() => { document.title = 'sent'; }, (e) => { document.title = 'failed ' + e; });
</script></body>`;
  }
  if (kind === 'upload') {
    return `<!doctype html><body><form id="f" method="POST" enctype="multipart/form-data" action="${target}/personal_docs/ESPGNU777ORG/${BIRTH}/CSRFDOC1">
<input type="hidden" name="meta" value='{"document_type":"picture"}'><input type="hidden" name="file" value="not a picture"></form>
<script>document.getElementById('f').submit()</script></body>`;
  }
  if (kind === 'portal-upload') {
    // The portal uploads a picture with fetch(): image/jpeg is no form's type, so the browser preflights.
    return `<!doctype html><body><script>
fetch(${JSON.stringify(`${target}/personal_docs/ESPGNU777ORG/${BIRTH}/PORTALDOC1`)}, { method: 'POST', headers: { 'Content-Type': 'image/jpeg',
  'X-Document-Type': 'picture', Authorization: 'Basic ' + btoa(${JSON.stringify(`${CAMERON.user}:${CAMERON.password}`)}) },
  body: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]) })
  .then((r) => r.json().then((j) => { document.title = 'status ' + r.status + ' ' + j.id + ' ' + j.size; }), (e) => { document.title = 'failed ' + e; });
</script></body>`;
  }
  // The portal: axios with `auth` sets Authorization itself and sends JSON, so the browser preflights.
  return `<!doctype html><body><script>
fetch(${JSON.stringify(`${target}/people/PORTALNEW1`)}, { method: 'POST', headers: { 'Content-Type': 'application/json',
  Authorization: 'Basic ' + btoa(${JSON.stringify(`${CAMERON.user}:${CAMERON.password}`)}) },
  body: JSON.stringify({ name: 'Portal', password: 'portal-pass-1', roles: ['end_user'], active: true }) })
  .then((r) => r.json().then((j) => { document.title = 'status ' + r.status + ' ' + j.id; }), (e) => { document.title = 'failed ' + e; });
</script></body>`;
}

t.before(async () => {
  s = await startServer();
  // Settle the demo accounts' bcrypt -> argon2id upgrade, so rows compare equal later.
  for (const a of [ROOT, CAMERON]) assert.is((await call(s.base, 'GET', '/login', { as: a })).status, 200);
  s.worker.server.on('request', (req, res) => res.once('finish', () => seen.push(`${req.method} ${req.url} ${res.statusCode}`)));
  attacker = http.createServer((req, res) => {
    const kind = (req.url ?? '').slice(1);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(attackerPage(s.base, kind));
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  evil = `http://localhost:${(attacker.address() as AddressInfo).port}`;
});

t.after(async () => {
  await context?.close().catch(() => undefined);
  if (profile) rmSync(profile, { recursive: true, force: true });
  await new Promise((r) => attacker.close(r));
  await s.close();
});

t('chromium signs in to Thalamus with Basic credentials', async () => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
  profile = mkdtempSync(join(tmpdir(), 'thalamus-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    // The victim is root: what the attacker wants is a root account.
    httpCredentials: { username: ROOT.user, password: ROOT.password },
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  page = context.pages()[0] ?? await context.newPage();
  const r = await page.goto(`${s.base}/login`);
  assert.is(r?.status(), 200);
  assert.is(await page.textContent('body'), 'true');
});

t('another site\'s auto-submitted text/plain form is refused (403) and creates nothing', async () => {
  const before = await dumpRows(s.db.pool);
  seen.length = 0;
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${s.base}/people/CSRFROOT1`),
    page.waitForURL(`${s.base}/people/CSRFROOT1`),
    page.goto(`${evil}/form`),
  ]);
  assert.is(response.status(), 403);
  assert.is((await response.json()).code, 'CROSS_SITE_REQUEST');
  assert.ok(seen.includes('POST /people/CSRFROOT1 403'), seen.join('; '));
  assert.is(await dumpRows(s.db.pool), before);
});

t('another site\'s fetch(no-cors, credentials: include) is refused and creates nothing', async () => {
  const before = await dumpRows(s.db.pool);
  seen.length = 0;
  await page.goto(`${evil}/fetch`);
  await page.waitForFunction(() => document.title !== '');
  assert.ok(seen.some((l) => l.startsWith('POST /people/CSRFROOT2 403')), seen.join('; '));
  assert.is(await dumpRows(s.db.pool), before);
});

t('a form on Thalamus\'s own origin is refused too', async () => {
  const before = await dumpRows(s.db.pool);
  seen.length = 0;
  await page.goto(`${s.base}/`);
  const name = `${JSON.stringify(ESCALATION).slice(0, -1)},"x":"`;
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${s.base}/people/CSRFROOT3`),
    // The submission navigates: wait for it, or the next test's navigation is cut short by it.
    page.waitForURL(`${s.base}/people/CSRFROOT3`),
    // The page itself runs no script (its CSP forbids it); the test adds the form as a stored-XSS would.
    page.evaluate(({ action, field }) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.enctype = 'text/plain';
      form.action = action;
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = field;
      input.value = '"}';
      form.append(input);
      document.body.append(form);
      form.submit();
    }, { action: `${s.base}/people/CSRFROOT3`, field: name }),
  ]);
  assert.is(response.status(), 403);
  assert.is(await dumpRows(s.db.pool), before);
});

t('another site\'s auto-submitted multipart/form-data upload is refused (403) and stores nothing', async () => {
  const before = await dumpRows(s.db.pool);
  seen.length = 0;
  const target = `${s.base}/personal_docs/ESPGNU777ORG/${BIRTH}/CSRFDOC1`;
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === target),
    page.waitForURL(target),
    page.goto(`${evil}/upload`),
  ]);
  assert.is(response.status(), 403);
  assert.is((await response.json()).code, 'CROSS_SITE_REQUEST');
  assert.ok(seen.includes(`POST /personal_docs/ESPGNU777ORG/${BIRTH}/CSRFDOC1 403`), seen.join('; '));
  assert.is(await dumpRows(s.db.pool), before);
});

t('the portal\'s upload from another origin works: image/jpeg with Authorization, preflighted', async () => {
  seen.length = 0;
  await page.goto(`${evil}/portal-upload`);
  await page.waitForFunction(() => document.title !== '');
  assert.is(await page.title(), 'status 201 PORTALDOC1 7');
  assert.ok(seen.includes(`OPTIONS /personal_docs/ESPGNU777ORG/${BIRTH}/PORTALDOC1 204`), seen.join('; '));
  const { rows } = await s.db.pool.query(`SELECT data->>'document_type' AS type, data->>'extension' AS extension, octet_length(document) AS size FROM personal_docs WHERE id = 'PORTALDOC1'`);
  assert.equal(rows, [{ type: 'picture', extension: 'jpg', size: 7 }]);
});

t('the portal\'s pattern from another origin works in the same browser: JSON with Authorization, preflighted', async () => {
  seen.length = 0;
  await page.goto(`${evil}/portal`);
  await page.waitForFunction(() => document.title !== '');
  assert.is(await page.title(), 'status 201 PORTALNEW1');
  assert.ok(seen.includes('OPTIONS /people/PORTALNEW1 204'), seen.join('; '));
  const { rows } = await s.db.pool.query(`SELECT data->'roles' AS roles FROM people WHERE id = 'PORTALNEW1'`);
  assert.equal(rows, [{ roles: ['end_user'] }]);
});

t.run();
