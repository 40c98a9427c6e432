// The password form in a real browser: Debian's chromium driven by playwright-core,
// signed in with HTTP Basic credentials. A missing chromium is a failure, never a skip.
import * as assert from 'uvu/assert';
import { suiteNeeding, TOOLS } from '../helpers/tools.js';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT as PROJECT } from '../../lib/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA } from '../helpers/http.js';

const CHROMIUM = TOOLS.chromium.path ?? 'chromium';
const OUTPUT = join(PROJECT, 'test-output');
export const SCREENSHOT = join(OUTPUT, 'password-form.png');
const NEW_PASSWORD = 'Correct horse 2026';

const t = suiteNeeding('browser', [TOOLS.chromium]);
let s: TestServer;
let profile: string | undefined;
let context: BrowserContext | undefined;
let page: Page;
/** Console errors and CSP violations reported by the pages. */
const problems: string[] = [];
/** Chromium logs the form's deliberate 400 (invalid entries) as a failed load; that one is expected. */
const EXPECTED_400 = 'Failed to load resource: the server responded with a status of 400 (Bad Request)';

t.before(async () => { s = await startServer(); });
t.after(async () => {
  await context?.close().catch(() => undefined);
  if (profile) rmSync(profile, { recursive: true, force: true });
  await s.close();
});

async function storedHash(): Promise<string> {
  const { rows } = await s.db.pool.query<{ h: string }>(`SELECT data->>'password' AS h FROM people WHERE id = $1`, [ANA.user]);
  return rows[0]!.h;
}

t('chromium is installed and starts headless with a fresh profile', async () => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH; the browser test cannot run without it`);
  profile = mkdtempSync(join(tmpdir(), 'thalamus-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    httpCredentials: { username: ANA.user, password: ANA.password },
    viewport: { width: 390, height: 844 }, // a phone
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' && m.text() !== EXPECTED_400) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
});

t('the form opens with our stylesheet and logo, readable on a phone', async () => {
  const r = await page.goto(`${s.base}/password/${ANA.user}`);
  assert.is(r?.status(), 200);
  assert.is(await page.title(), 'Change your password · Thalamus');
  assert.is(await page.getByRole('heading', { level: 1 }).textContent(), 'Change your password');
  // The stylesheet applied (our max-width container) and the logo decoded; CSP blocked neither.
  assert.is(await page.locator('main').evaluate((el) => getComputedStyle(el).borderTopStyle), 'solid');
  assert.ok(await page.locator('.brand img').evaluate((img) => (img as HTMLImageElement).naturalWidth > 0), 'the logo loaded');
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  assert.ok(fits, 'no horizontal scrolling at 390px');
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(existsSync(SCREENSHOT));
});

t('labels name the fields, focus starts on the first and follows the visual order', async () => {
  const password = page.getByLabel('New password', { exact: true });
  const confirm = page.getByLabel('Confirm the new password');
  assert.is(await password.getAttribute('id'), 'password');
  assert.is(await confirm.getAttribute('id'), 'confirm');
  assert.is(await page.evaluate(() => document.activeElement?.id), 'password');
  await page.keyboard.press('Tab');
  assert.is(await page.evaluate(() => document.activeElement?.id), 'confirm');
  await page.keyboard.press('Tab');
  assert.is(await page.evaluate(() => document.activeElement?.textContent), 'Change password');
});

t('two different passwords: the error is shown at the field and nothing changes', async () => {
  const before = await storedHash();
  await page.getByLabel('New password', { exact: true }).fill('first-password-1');
  await page.getByLabel('Confirm the new password').fill('second-password-2');
  const [r] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Change password' }).click()]);
  assert.is(r?.status(), 400);
  const error = page.locator('#confirm-error');
  assert.ok(await error.isVisible(), 'the error text is visible');
  assert.is(await error.textContent(), 'Error: The two passwords differ; type the same password twice');
  const confirm = page.getByLabel('Confirm the new password');
  assert.is(await confirm.getAttribute('aria-invalid'), 'true');
  assert.is(await confirm.getAttribute('aria-describedby'), 'confirm-hint confirm-error');
  assert.is(await page.evaluate(() => document.activeElement?.id), 'confirm', 'focus moves to the field in error');
  assert.ok(await page.getByRole('alert').isVisible());
  assert.is(await page.getByLabel('New password', { exact: true }).inputValue(), '', 'passwords are never sent back');
  await page.screenshot({ path: join(OUTPUT, 'password-form-error.png'), fullPage: true });
  assert.is(await storedHash(), before);
});

t('a valid change is confirmed on a page; the API then takes the new password and refuses the old one', async () => {
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('Confirm the new password').fill(NEW_PASSWORD);
  const [r] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Change password' }).click()]);
  assert.is(r?.status(), 200);
  assert.is(await page.getByRole('heading', { level: 1 }).textContent(), 'Password changed');
  assert.match(await page.getByRole('status').textContent() ?? '', 'The password of account ESPGNU777ORG has been changed.');
  assert.match(await storedHash(), /^\$argon2id\$/);
  const fresh = await call(s.base, 'GET', '/login', { as: { user: ANA.user, password: NEW_PASSWORD } });
  assert.is(fresh.status, 200);
  assert.is(fresh.json, true);
  const old = await call(s.base, 'GET', '/login', { as: ANA });
  assert.is(old.status, 401);
  assert.is(old.json.code, 'UNAUTHENTICATED');
});

t('the index page renders with its stylesheet and logo on a wide screen', async () => {
  await page.setViewportSize({ width: 1024, height: 768 });
  const r = await page.goto(`${s.base}/`);
  assert.is(r?.status(), 200);
  assert.is(await page.getByRole('heading', { level: 1 }).textContent(), 'Thalamus');
  assert.ok(await page.locator('.brand img').evaluate((img) => (img as HTMLImageElement).naturalWidth > 0), 'the logo loaded');
  await page.screenshot({ path: join(OUTPUT, 'index.png'), fullPage: true });
});

t('no console error or CSP violation on any page', () => {
  assert.equal(problems, []);
});

t.run();
