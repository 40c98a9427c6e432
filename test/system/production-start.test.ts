// A production start never falls back to the demo federation (finding 5 of issue 20).
// The attack: the shipped unit's environment (NODE_ENV=production, systemd's variables)
// without DATABASE_URL, or a THALAMUS_CONFIG that names no file, used to start an
// embedded PostgreSQL holding the demo accounts, answer /readyz and let
// ARGBUE111FAV:freedom in as root. Each such start must exit 78 with one line naming
// what is missing and start no PostgreSQL; so must a start not asked to use the
// embedded one (`--dev`, which `npm start` passes), and a command of the `thalamus` CLI
// that would write into an embedded database nobody asked for. Administrators who still
// have a demo password are logged as an error at every start, and /readyz reports them
// (503 in production, a warning in development) until the password is changed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../lib/config.js';
import { migrate, loadDemo } from '../../lib/db/migrate.js';
import { readPidFile, stopPid } from '../../lib/db/postmaster.js';
import { isAlive } from '../../lib/db/proc.js';
import { createDatabase, type TestDatabase } from '../helpers/server.js';
import { ANA, ROOT as ROOT_ACCOUNT, call } from '../helpers/http.js';
import { runCli } from '../helpers/cli.js';
import { startCluster, adminGet, sleep, freePort, waitFor, type ClusterProcess } from '../helpers/cluster.js';

const t = suite('production start: no demo data unless asked for');
let dir: string;
let db: TestDatabase;
const running: ClusterProcess[] = [];

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thalamus-prodstart-'));
  chmodSync(dir, 0o755); // as root, an embedded PostgreSQL would run as user postgres
  db = await createDatabase();
  await migrate(db.pool);
  await loadDemo(db.pool);
});

t.after(async () => {
  for (const c of running) await c.stop(5000);
  const left = readPidFile(join(dir, 'postgres'))?.pid;
  if (left && isAlive(left)) await stopPid(left);
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
});

/** The environment of a machine with nothing configured, plus `extra`. */
function bare(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', THALAMUS_DATA_DIR: dir, THALAMUS_PROCESSES: '1', THALAMUS_LOG_LEVEL: 'info', THALAMUS_LOG_JSON: '1', ...extra };
}

interface Outcome { code: number | null; stderr: string; ready: boolean; rootLogin?: number }

/**
 * Runs `server/main.ts` (`args`) with `env`: its exit code and stderr, or, when it comes up
 * instead, whether the demo root logs in; then it is stopped (SIGTERM stops its PostgreSQL).
 */
async function startWith(env: Record<string, string>, args: string[]): Promise<Outcome> {
  const port = await freePort();
  const admin = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args], {
    cwd: ROOT, env: { ...env, THALAMUS_LISTEN: `127.0.0.1:${port}`, THALAMUS_ADMIN_LISTEN: `127.0.0.1:${admin}` }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  while (child.exitCode === null && Date.now() < deadline) {
    const ready = await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) {
      const login = await call(`http://127.0.0.1:${port}`, 'GET', '/login', { as: ROOT_ACCOUNT });
      child.kill('SIGTERM');
      await exited;
      return { code: null, stderr, ready: true, rootLogin: login.status };
    }
    await sleep(200);
  }
  if (child.exitCode === null) child.kill('SIGKILL');
  return { code: await exited, stderr, ready: false };
}

const NO_DATABASE = 'no database is configured (set DATABASE_URL, or POSTGRESQL_URI in the configuration file)';

t('a start without a database is refused in production, and unless --dev asks for the embedded one: exit 78, one line, no PostgreSQL started', async () => {
  const missing = join(dir, 'etc', 'thalamus.cfg');
  const cases: Array<[string, Record<string, string>, string[], string]> = [
    ['NODE_ENV=production (npm start)', { NODE_ENV: 'production' }, ['--dev'],
      `thalamus: configuration error: ${NO_DATABASE}; this is a production start (NODE_ENV=production), which never uses the embedded PostgreSQL and its demo data\n`],
    ['systemd: INVOCATION_ID', { INVOCATION_ID: '5c0a3b1e2d4f4e6a8b9c0d1e2f3a4b5c' }, ['--dev'],
      `thalamus: configuration error: ${NO_DATABASE}; this is a production start (started by systemd: INVOCATION_ID is set), which never uses the embedded PostgreSQL and its demo data\n`],
    ['systemd: NOTIFY_SOCKET', { NOTIFY_SOCKET: join(dir, 'notify') }, ['--dev'],
      `thalamus: configuration error: ${NO_DATABASE}; this is a production start (started by systemd: NOTIFY_SOCKET is set), which never uses the embedded PostgreSQL and its demo data\n`],
    ['THALAMUS_CONFIG names no file', { THALAMUS_CONFIG: missing }, ['--dev'],
      `thalamus: configuration error: ${NO_DATABASE}; this is a production start (THALAMUS_CONFIG names ${missing}, which does not exist), which never uses the embedded PostgreSQL and its demo data\n`],
    ['all of them, as the shipped unit without its environment file', { NODE_ENV: 'production', INVOCATION_ID: '5c0a3b1e2d4f4e6a8b9c0d1e2f3a4b5c', THALAMUS_CONFIG: missing }, [],
      `thalamus: configuration error: ${NO_DATABASE}; this is a production start (NODE_ENV=production; started by systemd: INVOCATION_ID is set; THALAMUS_CONFIG names ${missing}, which does not exist), which never uses the embedded PostgreSQL and its demo data\n`],
    ['node dist/server/main.js without --dev', {}, [],
      `thalamus: configuration error: ${NO_DATABASE}; the embedded PostgreSQL with the demo federation runs only when asked for with --dev (npm start, npm run dev)\n`],
  ];
  const outcomes: Outcome[] = [];
  for (const [, env, args] of cases) outcomes.push(await startWith(bare(env), args));
  const figure = cases.map(([name], i) => {
    const o = outcomes[i]!;
    return o.ready ? `${name}: started, /readyz 200, root with the demo password ${o.rootLogin}` : `${name}: exit ${o.code}`;
  });
  process.stdout.write(`  [production start]\n${figure.map((l) => `    ${l}\n`).join('')}`);
  const data = readdirSync(dir);
  process.stdout.write(`    data folder afterwards: ${data.length ? data.join(', ') : 'empty'}\n`);
  cases.forEach(([name, , , line], i) => {
    assert.is(outcomes[i]!.ready, false, `${name}: not served`);
    assert.is(outcomes[i]!.code, 78, name);
    assert.is(outcomes[i]!.stderr, line, name);
  });
  assert.equal(data, [], 'no PostgreSQL was initialised');
});

t('a terminal is not systemd: INVOCATION_ID alone (a desktop terminal has it) does not mark a start whose standard input is a terminal', async () => {
  const { productionSigns } = await import('../../server/start-mode.js');
  const env = { INVOCATION_ID: '5c0a3b1e2d4f4e6a8b9c0d1e2f3a4b5c' };
  assert.equal(productionSigns(env, true), []);
  assert.equal(productionSigns(env, false), ['started by systemd: INVOCATION_ID is set']);
  assert.equal(productionSigns({ ...env, NOTIFY_SOCKET: '/run/x' }, true), ['started by systemd: NOTIFY_SOCKET is set']);
  assert.equal(productionSigns({ NODE_ENV: 'development' }, false), []);
});

const DEMO_WARNING = 'administrator ARGBUE111FAV still has a password of the demo federation: change it (thalamus user passwd ARGBUE111FAV)';

/** The JSON log lines of `c` at level error (50) whose message mentions demo passwords. */
const demoErrors = (c: ClusterProcess) => c.output().split('\n').filter((l) => l.includes('"level":50') && l.includes('demo federation'));

t('an administrator with a demo password: an error line at start; /readyz 200 with a warning in development', async () => {
  const c = await startCluster({ DATABASE_URL: db.url, THALAMUS_PROCESSES: '1', THALAMUS_LOG_LEVEL: 'info', THALAMUS_LOG_JSON: '1', NODE_ENV: undefined, INVOCATION_ID: undefined, NOTIFY_SOCKET: undefined });
  running.push(c);
  const ready = await adminGet(c, '/readyz');
  const errors = demoErrors(c);
  process.stdout.write(`  [demo password] development: /readyz ${ready.status} ${ready.text}; ${errors.length} error line(s)\n`);
  assert.equal(ready, { status: 200, text: JSON.stringify({ status: 'ready', warnings: [DEMO_WARNING] }) });
  assert.is(errors.length, 1, c.output());
  assert.match(errors[0]!, DEMO_WARNING);
  await c.stop();
});

t('in production /readyz is 503 while an administrator has a demo password (also after the login that rehashes it), 200 once it is changed', async () => {
  const c = await startCluster({ DATABASE_URL: db.url, THALAMUS_PROCESSES: '1', THALAMUS_LOG_LEVEL: 'info', THALAMUS_LOG_JSON: '1', NODE_ENV: 'production' }, { ready: false });
  running.push(c);
  const unready = { status: 503, text: JSON.stringify({ status: 'unavailable', reason: DEMO_WARNING }) };
  let last = { status: 0, text: '' };
  await waitFor('/readyz to report the demo password', async () => {
    last = await adminGet(c, '/readyz').catch(() => ({ status: 0, text: '' }));
    return last.status === 200 || last.text.includes('demo');
  }, 60_000).catch(() => undefined);
  process.stdout.write(`  [demo password] production: /readyz ${last.status} ${last.text}; ${demoErrors(c).length} error line(s)\n`);
  assert.equal(last, unready);
  assert.is(demoErrors(c).length, 1);
  // The server itself serves meanwhile: only readiness says no.
  assert.is((await call(c.base, 'GET', '/login', { as: ANA })).status, 200);
  // Root logs in: the bcrypt hash becomes an argon2id one of the same demo password.
  assert.is((await call(c.base, 'GET', '/login', { as: ROOT_ACCOUNT })).status, 200);
  const { rows } = await db.pool.query(`SELECT data->>'password' AS hash FROM people WHERE id = 'ARGBUE111FAV'`);
  assert.match(rows[0].hash, /^\$argon2id\$/);
  await sleep(7000);
  assert.equal(await adminGet(c, '/readyz'), unready, 'still the demo password');
  const changed = await runCli(['user', 'passwd', 'ARGBUE111FAV', '--password-stdin'], { env: { DATABASE_URL: db.url }, input: 'a-root-password-of-our-own\n' });
  assert.is(changed.code, 0, changed.stderr);
  await waitFor('/readyz 200', async () => (await adminGet(c, '/readyz')).status === 200, 15_000);
  assert.equal(await adminGet(c, '/readyz'), { status: 200, text: '{"status":"ready"}' });
  await c.stop();
});

t('the CLI: a command that would write into an embedded database nobody asked for refuses, exit 78, one line, nothing started', async () => {
  const refusal = `thalamus: configuration error: ${NO_DATABASE}; the embedded PostgreSQL runs only when asked for with --dev\n`;
  const cases: Array<[string[], string | undefined, Record<string, string>, string]> = [
    [['user', 'add', 'INTRUDER01', '--role', 'root', '--password-stdin'], 'a-password-of-mine\n', {}, refusal],
    [['demo'], undefined, {}, refusal],
    [['migrate'], undefined, {}, refusal],
    [['import'], '{"kind":"person","id":"INTRUDER02","data":{"roles":["root"]}}\n', {}, refusal],
    [['--dev', 'demo'], undefined, { NODE_ENV: 'production' },
      `thalamus: configuration error: ${NO_DATABASE}; this is a production start (NODE_ENV=production), which never uses the embedded PostgreSQL and its demo data\n`],
  ];
  const results = [];
  for (const [args, input, env] of cases) {
    const r = await runCli(args, { env: { THALAMUS_DATA_DIR: dir, ...env }, input, timeoutMs: 120_000 });
    results.push(r);
    // Whatever an unfixed command started, it stopped with it.
  }
  process.stdout.write(`  [cli] ${cases.map(([args], i) => `${args.join(' ')}: exit ${results[i]!.code}`).join('; ')}; data folder: ${readdirSync(dir).join(', ') || 'empty'}\n`);
  cases.forEach(([args, , , line], i) => {
    assert.is(results[i]!.code, 78, args.join(' '));
    assert.is(results[i]!.stderr, line, args.join(' '));
  });
  assert.not.ok(existsSync(join(dir, 'postgres')), 'no PostgreSQL was initialised');
});

t.run();
