// How a document's bytes are served (issue 20, finding 10): only passive types (images
// other than SVG, PDF, plain text) inline; anything else, whatever its extension says,
// as an attachment under `Content-Security-Policy: sandbox`, so an upload cannot run in
// or steer a professional's browser. A PATCH of the extension is checked as an upload's.
// Attacked as the tester did: an XHTML page declared application/xml, octet-stream bytes
// named svg, extensions PATCHed after the upload; then in Chromium, a professional
// opening the XHTML document with a meta refresh to another (loopback) site.
import * as assert from 'uvu/assert';
import { suiteNeeding, TOOLS } from '../helpers/tools.js';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, type CallOptions, type Response } from '../helpers/http.js';
import { dumpRows } from '../helpers/rows.js';
import { API_CSP } from '../../lib/http/headers.js';

const CHROMIUM = TOOLS.chromium.path ?? 'chromium';
const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const SANDBOXED = `sandbox; ${API_CSP}`;

const t = suiteNeeding('documents served', [TOOLS.chromium]);
let s: TestServer;
const req = (method: string, path: string, opts: CallOptions = {}) => call(s.base, method, path, opts);
const docPath = (doc: string) => `/personal_docs/${ANA.user}/${BIRTH}/${doc}`;

/** A raw upload as ANA: the bytes with their type, the metadata in headers. */
function upload(doc: string, bytes: string | Buffer, type: string, meta: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': type };
  for (const [k, v] of Object.entries(meta)) headers[`x-document-${k}`] = encodeURIComponent(v);
  return req('POST', docPath(doc), { as: ANA, raw: Buffer.from(bytes), headers });
}

/** An XHTML page a browser renders from application/xml: it sends the reader elsewhere. */
const xhtml = (target: string) => `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>
<meta http-equiv="refresh" content="0; url=${target}"/><title>Lab results</title></head><body><p>Loading your results</p></body></html>`;
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><circle r="5"/></svg>';
const JPEG = Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDAoKCgoKDBQNDQ0NDQ0UEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==', 'base64');
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const PDF = '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n';

/** The headers a document is served with, for GET, HEAD and a 304 alike. */
async function served(doc: string): Promise<Array<Record<string, unknown>>> {
  const get = await req('GET', docPath(doc), { as: CAMERON });
  assert.is(get.status, 200, get.text);
  const head = await req('HEAD', docPath(doc), { as: CAMERON });
  const again = await req('GET', docPath(doc), { as: CAMERON, headers: { 'if-none-match': String(get.headers.etag) } });
  assert.is(again.status, 304);
  return [get, head, again].map((r) => ({
    type: r.headers['content-type'], disposition: r.headers['content-disposition'], csp: r.headers['content-security-policy'], nosniff: r.headers['x-content-type-options'],
  }));
}

function assertAttachment(doc: string, got: Array<Record<string, unknown>>, type: string, extension: string): void {
  for (const h of got) {
    assert.equal(h, { type: h.type === undefined ? undefined : type, disposition: `attachment; filename="${doc}.${extension}"`, csp: SANDBOXED, nosniff: 'nosniff' }, doc);
  }
}

t.before(async () => {
  s = await startServer();
  for (const as of [ANA, CAMERON]) assert.is((await req('GET', '/login', { as })).status, 200);
});
t.after(async () => { await s.close(); });

t('XHTML declared application/xml is served as an attachment in a sandbox', async () => {
  const r = await upload('xhtml-as-xml', xhtml('https://example.org/'), 'application/xml');
  assert.is(r.status, 201, r.text);
  assert.is(r.json.extension, 'xml');
  assertAttachment('xhtml-as-xml', await served('xhtml-as-xml'), 'application/xml', 'xml');
});

t('application/octet-stream named svg is served as an attachment in a sandbox', async () => {
  const r = await upload('octet-svg', SVG, 'application/octet-stream', { extension: 'svg' });
  assert.is(r.status, 201, r.text);
  assertAttachment('octet-svg', await served('octet-svg'), 'image/svg+xml', 'svg');
  // Declared as what it is, the same.
  assert.is((await upload('real-svg', SVG, 'image/svg+xml')).status, 201);
  assertAttachment('real-svg', await served('real-svg'), 'image/svg+xml', 'svg');
});

t('passive types are served inline, without the sandbox: JPEG, PNG, PDF, plain text', async () => {
  for (const [doc, bytes, type, ext, servedType] of [
    ['inline-jpg', JPEG, 'image/jpeg', 'jpg', 'image/jpeg'], ['inline-png', PNG, 'image/png', 'png', 'image/png'],
    ['inline-pdf', PDF, 'application/pdf', 'pdf', 'application/pdf'], ['inline-txt', 'results: normal\n', 'text/plain', 'txt', 'text/plain; charset=utf-8'],
  ] as const) {
    assert.is((await upload(doc, bytes, type)).status, 201, doc);
    for (const h of await served(doc)) {
      assert.equal(h, { type: h.type === undefined ? undefined : servedType, disposition: `inline; filename="${doc}.${ext}"`, csp: API_CSP, nosniff: 'nosniff' }, doc);
    }
  }
});

t('a PATCH of the extension is checked as an upload\'s: a JPEG cannot become svg, html or xhtml', async () => {
  assert.is((await upload('patched-jpg', JPEG, 'image/jpeg')).status, 201);
  for (const extension of ['svg', 'png', 'xml']) {
    const before = await dumpRows(s.db.pool);
    const r = await req('PATCH', docPath('patched-jpg'), { as: ANA, body: { extension } });
    assert.is(r.status, 400, `${extension}: ${r.text}`);
    assert.equal(r.json, { error: `The extension "${extension}" is served as ${extension === 'svg' ? 'image/svg+xml' : extension === 'png' ? 'image/png' : 'application/xml'}, but the document is image/jpeg; upload it again under a new id`, code: 'INVALID_VALUE' });
    assert.is(await dumpRows(s.db.pool), before, extension);
  }
  // Extensions without a type of their own are served as bytes to download: accepted, never inline.
  for (const extension of ['html', 'xhtml']) {
    const r = await req('PATCH', docPath('patched-jpg'), { as: ANA, body: { extension } });
    assert.is(r.status, 200, `${extension}: ${r.text}`);
    assertAttachment('patched-jpg', await served('patched-jpg'), 'application/octet-stream', extension);
  }
  // Back to its own type, and its own kind of name.
  assert.is((await req('PATCH', docPath('patched-jpg'), { as: ANA, body: { extension: 'jpeg', description: 'x-ray' } })).status, 200);
  assert.equal((await served('patched-jpg'))[0]!.disposition, 'inline; filename="patched-jpg.jpeg"');
  // Bytes of no known type may be named anything, as at upload: served as what the name says, active types in the sandbox.
  assert.is((await upload('patched-bin', SVG, 'application/octet-stream', { extension: 'bin' })).status, 201);
  assert.is((await req('PATCH', docPath('patched-bin'), { as: ANA, body: { extension: 'svg' } })).status, 200);
  assertAttachment('patched-bin', await served('patched-bin'), 'image/svg+xml', 'svg');
});

t('chromium: a professional opening the XHTML document is not sent to another site', async () => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM}: install Debian's package or set CHROMIUM_PATH`);
  let visits = 0;
  const elsewhere: Server = createServer((_, res) => { visits++; res.end('<title>elsewhere</title>phished'); });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.2', resolve));
  const target = `http://127.0.0.2:${(elsewhere.address() as { port: number }).port}/login`;
  assert.is((await upload('refresh-xhtml', xhtml(target), 'application/xml')).status, 201);
  const profile = mkdtempSync(join(tmpdir(), 'thalamus-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, acceptDownloads: true, timeout: 60_000,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      httpCredentials: { username: CAMERON.user, password: CAMERON.password },
    });
    const page = context.pages()[0] ?? await context.newPage();
    const downloads: string[] = [];
    page.on('download', (d) => downloads.push(d.suggestedFilename()));
    // An attachment is a download, which playwright reports as an aborted navigation.
    await page.goto(`${s.base}${docPath('refresh-xhtml')}`, { timeout: 20_000 }).catch((err: Error) => { if (!/Download is starting|ERR_ABORTED/.test(err.message)) throw err; });
    await page.waitForTimeout(1500);
    console.log(`  chromium: ${visits} request(s) reached the other site; downloads: ${JSON.stringify(downloads)}; page at ${page.url()}`);
    assert.is(visits, 0, 'the document sent the browser to another site');
    assert.equal(downloads, ['refresh-xhtml.xml']);
  } finally {
    await context?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
    await new Promise((resolve) => elsewhere.close(resolve));
  }
});

t.run();
