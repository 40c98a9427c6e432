// The `thalamus` command, run for real (server/thalamus.js) against a real PostgreSQL:
// --help everywhere, exit codes (0, 1, 2, 78), migrate and demo, and account
// administration proven by logging in to a real worker on the same database, each
// change with its audit row naming the operator's OS account. `serve` starts the
// cluster and stops on SIGTERM. (config check: config.test.ts; export/import: bulk.test.ts.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ROOT } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { migrationFiles } from '../../lib/db/migrate.js';
import { startHttpServer, type HttpServer } from '../../server/http-server.js';
import { freePort } from '../../lib/net.js';
import { createDatabase, type TestDatabase } from '../helpers/server.js';
import { call, type Account } from '../helpers/http.js';
import { runCli, BIN } from '../helpers/cli.js';
import { startCluster, within } from '../helpers/cluster.js';

const OS = `os:${userInfo().username}`;
const COMMANDS = ['serve', 'migrate', 'demo', 'config', 'config check', 'user', 'user add', 'user passwd', 'user roles',
  'user deactivate', 'user unlock', 'export', 'import'];

const help = suite('cli: help and exit codes');

help('--help lists every command; every command has its own --help (exit 0)', async () => {
  const top = await runCli(['--help']);
  assert.is(top.code, 0, top.stderr);
  for (const c of ['serve', 'migrate', 'demo', 'config', 'user', 'export', 'import']) assert.match(top.stdout, new RegExp(`\\n  ${c}\\b`));
  const results = await Promise.all(COMMANDS.map((c) => runCli([...c.split(' '), '--help'])));
  results.forEach((r, i) => {
    assert.is(r.code, 0, `${COMMANDS[i]} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: thalamus ${COMMANDS[i]}\\b`), COMMANDS[i]);
  });
});

help('`npx thalamus --help` runs the bin of package.json in the checkout', async () => {
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('npx', ['--no-install', 'thalamus', '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c; });
    child.once('close', (code) => resolve({ code, out }));
  });
  assert.is(r.code, 0);
  assert.match(r.out, /^Usage: thalamus \[options\] \[command\]/);
});

help('on a fresh clone (no dist/), the launcher runs the sources through tsx: no build step needed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'thalamus-clone-'));
  try {
    for (const f of ['lib', 'server', 'sql', 'etc', 'package.json']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [join(dir, 'server', 'thalamus.js'), 'user', '--help'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => { out += c; });
      child.once('close', (code) => resolve({ code, out }));
    });
    assert.is(r.code, 0);
    assert.match(r.out, /^Usage: thalamus user \[options\] \[command\]/);
    assert.not.ok(existsSync(join(dir, 'dist')), 'nothing was built');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

help('usage errors exit 2: no command, an unknown one, a missing argument, an unknown option', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: thalamus/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['user', 'add'], /missing required argument 'id'/],
    [['user'], /Usage: thalamus user/],
    [['export', '--no-such-flag'], /unknown option '--no-such-flag'/],
    [['export', '--kinds', 'people,spaceships'], /--kinds: unknown kind "spaceships"/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => {
    assert.is(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, cases[i]![1]);
  });
});

help.run();

const db = suite('cli: migrate, demo, accounts');
let d: TestDatabase;
let worker: HttpServer;
let base = '';
const env = () => ({ DATABASE_URL: d.url });
const login = (as: Account) => call(base, 'GET', '/login', { as });
const auditRows = async () => (await d.pool.query(
  `SELECT actor, actor_roles, action, route, record_id, person, status, detail FROM audit WHERE actor LIKE 'os:%' ORDER BY id`)).rows;

db.before(async () => { d = await createDatabase(); });
db.after(async () => {
  await worker?.close(1000);
  await d.drop();
});

db('migrate --dry-run lists every migration of a fresh database and changes nothing; migrate applies them; again, nothing', async () => {
  const all = migrationFiles();
  const dry = await runCli(['migrate', '--dry-run'], { env: env() });
  assert.is(dry.code, 0, dry.stderr);
  assert.is(dry.stdout, `would apply: ${all.join(', ')}\n`);
  const { rows } = await d.pool.query(`SELECT to_regclass('people') AS t, to_regclass('thalamus_migrations') AS m`);
  assert.equal(rows[0], { t: null, m: null }, 'the dry run created nothing');
  const applied = await runCli(['migrate'], { env: env() });
  assert.is(applied.code, 0, applied.stderr);
  assert.is(applied.stdout, `applied: ${all.join(', ')}\n`);
  for (const args of [['migrate'], ['migrate', '--dry-run']]) {
    const again = await runCli(args, { env: env() });
    assert.is(again.stdout, 'the database is up to date: nothing to apply\n', args.join(' '));
  }
});

db('demo loads the demo federation, and again changes nothing', async () => {
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['demo'], { env: env() });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, 'demo federation loaded\n');
  }
  const { rows } = await d.pool.query('SELECT id FROM people ORDER BY id');
  assert.equal(rows.map((r) => r.id), ['ARGBUE111FAV', 'ESPGNU777ORG', 'ITAPYT999HON']);
  const config = { ...loadConfig(undefined, {}), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', lockoutPairFailures: 3 };
  worker = await startHttpServer(config, d.url, createLogger('silent'));
  base = `http://127.0.0.1:${worker.address.port}`;
});

db('user add: an id as the API takes it (upper-cased), roles, an argon2id hash; it logs in; the audit row names the operator', async () => {
  const r = await runCli(['user', 'add', 'nurse.ada01', '--role', 'health_professional', 'end_user', '--password-stdin'], { env: env(), input: 'correct horse battery\n' });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'created NURSE.ADA01 with roles health_professional, end_user\n');
  const { rows } = await d.pool.query(`SELECT data FROM people WHERE id = 'NURSE.ADA01'`);
  assert.equal({ ...rows[0].data, password: undefined }, { id: 'NURSE.ADA01', roles: ['health_professional', 'end_user'], active: true, password: undefined });
  assert.match(rows[0].data.password, /^\$argon2id\$v=19\$m=19456,/);
  assert.is((await login({ user: 'NURSE.ADA01', password: 'correct horse battery' })).status, 200, 'the trailing newline is not part of the password');
  assert.is((await call(base, 'GET', '/people', { as: { user: 'nurse.ada01', password: 'correct horse battery' } })).status, 200, 'a health professional');
  assert.equal(await auditRows(), [{
    actor: OS, actor_roles: [], action: 'create', route: 'cli user add', record_id: 'NURSE.ADA01', person: 'NURSE.ADA01', status: 201,
    detail: { changed: ['roles', 'active', 'password'] },
  }]);
});

db('user add refuses, changing nothing: a taken id (1), an id outside PERSON_ID_PATTERN (2), an unknown role (2), a short password (1), no password and no terminal (2)', async () => {
  await worker.services.audit.flush(); // the reads of the last test, written a second later
  const before = (await d.pool.query('SELECT count(*)::int AS n FROM audit')).rows[0].n;
  const cases: Array<[string[], string | undefined, number, RegExp]> = [
    [['user', 'add', 'ESPGNU777ORG', '--password-stdin'], 'long enough 1', 1, /^thalamus: ESPGNU777ORG exists already; nothing was changed/],
    [['user', 'add', 'bad id!', '--password-stdin'], 'long enough 1', 2, /person ids must match \^\[A-Za-z0-9\._-\]\{1,128\}\$ \(PERSON_ID_PATTERN\): "bad id!"/],
    [['user', 'add', 'NEW0001', '--role', 'superuser', '--password-stdin'], 'long enough 1', 2, /roles\.cfg defines no role "superuser" \(it has end_user, health_professional, root\)/],
    [['user', 'add', 'NEW0001', '--password-stdin'], 'short\n', 1, /^thalamus: The password must have at least 8 characters; nothing was changed/],
    [['user', 'add', 'NEW0001'], undefined, 2, /no terminal to type the password at: pass it on standard input with --password-stdin/],
  ];
  for (const [args, input, code, message] of cases) {
    const r = await runCli(args, { env: env(), input });
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.is(r.stdout, '');
  }
  assert.is((await d.pool.query(`SELECT count(*)::int AS n FROM people WHERE id = 'NEW0001'`)).rows[0].n, 0);
  assert.is((await d.pool.query('SELECT count(*)::int AS n FROM audit')).rows[0].n, before);
  const none = await runCli(['user', 'add', 'NODE0001', '--no-password'], { env: env() });
  assert.is(none.stdout, 'created NODE0001 with roles end_user, without a password\n');
  assert.is((await login({ user: 'NODE0001', password: 'anything at all' })).status, 401);
});

db('user passwd: the new password works at once, the old one no longer; an unknown person is exit 1', async () => {
  const ada = { user: 'NURSE.ADA01', password: 'correct horse battery' };
  assert.is((await login(ada)).status, 200);
  const r = await runCli(['user', 'passwd', 'Nurse.Ada01', '--password-stdin'], { env: env(), input: 'a new, longer passphrase' });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'password of NURSE.ADA01 changed\n');
  assert.is((await login(ada)).status, 401, 'the cached old password is refused at once');
  assert.is((await login({ ...ada, password: 'a new, longer passphrase' })).status, 200);
  const missing = await runCli(['user', 'passwd', 'NOBODY01', '--password-stdin'], { env: env(), input: 'long enough password' });
  assert.is(missing.code, 1);
  assert.is(missing.stderr, 'thalamus: no person NOBODY01 in the federation\n');
  const rows = await auditRows();
  assert.equal(rows.at(-1), { actor: OS, actor_roles: [], action: 'update', route: 'cli user passwd', record_id: 'NURSE.ADA01', person: 'NURSE.ADA01', status: 200, detail: { changed: ['password'] } });
});

db('user roles replaces the roles (taking rights away at the next request); user deactivate stops logins', async () => {
  const ada = { user: 'NURSE.ADA01', password: 'a new, longer passphrase' };
  const r = await runCli(['user', 'roles', 'nurse.ada01', 'end_user'], { env: env() });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'roles of NURSE.ADA01: end_user\n');
  assert.is((await call(base, 'GET', '/people', { as: ada })).status, 403, 'no longer a health professional');
  const bad = await runCli(['user', 'roles', 'NURSE.ADA01', 'root', 'wizard'], { env: env() });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /defines no role "wizard"/);
  const off = await runCli(['user', 'deactivate', 'NURSE.ADA01'], { env: env() });
  assert.is(off.stdout, 'NURSE.ADA01 deactivated\n');
  assert.is((await login(ada)).status, 401);
  const { rows } = await d.pool.query(`SELECT data->'roles' AS roles, data->'active' AS active FROM people WHERE id = 'NURSE.ADA01'`);
  assert.equal(rows[0], { roles: ['end_user'], active: false });
  assert.equal((await auditRows()).slice(-2).map((a) => [a.action, a.route, a.detail]), [
    ['update', 'cli user roles', { changed: ['roles'] }], ['update', 'cli user deactivate', { changed: ['active'] }],
  ]);
});

db("user unlock clears the account's lockout (its pairs and its all-address count) and nobody else's", async () => {
  const ana = { user: 'ESPGNU777ORG', password: 'gnusolidario' };
  for (let i = 0; i < 3; i++) assert.is((await login({ ...ana, password: `wrong ${i}` })).status, 401);
  assert.is((await login(ana)).status, 429, 'locked after 3 failures (LOCKOUT_PAIR_FAILURES = 3 here)');
  // Lookalike keys that must stay: another account whose id starts the same, an address's own count.
  await d.pool.query(`INSERT INTO login_failures (scope, key) VALUES ('pair', 'ESPGNU777ORGX 127.0.0.1'), ('account', 'ESPGNU777ORGX')`);
  const addressRows = async () => (await d.pool.query(`SELECT count(*)::int AS n FROM login_failures WHERE scope = 'address'`)).rows[0].n;
  const address = await addressRows();
  const r = await runCli(['user', 'unlock', 'espgnu777org'], { env: env() });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'ESPGNU777ORG unlocked (6 failed-login rows removed)\n');
  assert.is(await addressRows(), address, "the address's own count stays");
  const { rows } = await d.pool.query(`SELECT scope, key FROM login_failures WHERE key LIKE 'ESPGNU%' ORDER BY scope, key`);
  assert.equal(rows, [{ scope: 'account', key: 'ESPGNU777ORGX' }, { scope: 'pair', key: 'ESPGNU777ORGX 127.0.0.1' }]);
  assert.is((await login(ana)).status, 200);
  assert.equal((await auditRows()).at(-1), { actor: OS, actor_roles: [], action: 'unlock', route: 'cli user unlock', record_id: 'ESPGNU777ORG', person: 'ESPGNU777ORG', status: 200, detail: null });
});

db('user unlock of an id that is no account and has no failures is exit 1, changing nothing; one with failures is cleared and says so', async () => {
  const audits = (await auditRows()).length;
  const none = await runCli(['user', 'unlock', 'NOBODY999'], { env: env() });
  assert.is(none.code, 1);
  assert.is(none.stdout, '');
  assert.is(none.stderr, 'thalamus: NOBODY999: no such account, and no failed logins under that id\n');
  assert.is((await auditRows()).length, audits, 'nothing happened, nothing audited');
  // Failures for an id that does not exist lock the same way (lockout.test.ts): clearing them is real work.
  await d.pool.query(`INSERT INTO login_failures (scope, key) VALUES ('account', 'GHOST0001'), ('pair', login_pair_key('GHOST0001', '127.0.0.1'))`);
  const ghost = await runCli(['user', 'unlock', 'GHOST0001'], { env: env() });
  assert.is(ghost.code, 0, ghost.stderr);
  assert.is(ghost.stdout, 'GHOST0001 is no account; its lockout is cleared (2 failed-login rows removed)\n');
  assert.is((await auditRows()).length, audits + 1);
});

db('config check: THALAMUS_CONFIG naming no file is exit 78; a misspelt THALAMUS_ variable is a warning naming the key meant', async () => {
  const missing = await runCli(['config', 'check'], { env: { ...env(), THALAMUS_CONFIG: '/nonexistent/thalamus.cfg' } });
  assert.is(missing.code, 78);
  assert.is(missing.stderr, 'thalamus: configuration error: THALAMUS_CONFIG names /nonexistent/thalamus.cfg, which does not exist\n');
  const typo = await runCli(['config', 'check'], { env: { ...env(), THALAMUS_PROCESSS: '3', THALAMUS_NOTHING_LIKE_IT: '1' } });
  assert.is(typo.code, 0, typo.stderr);
  assert.match(typo.stderr, 'thalamus: warning: environment variable THALAMUS_PROCESSS sets nothing (THALAMUS_PROCESSES?)\n');
  assert.match(typo.stderr, 'thalamus: warning: environment variable THALAMUS_NOTHING_LIKE_IT sets nothing: no key has that name\n');
  assert.match(typo.stdout, /^PROCESSES +2 +/m);
});

db('config check warns of what production should not run with: an empty SECRET_KEY, CORS_ORIGINS *, no database', async () => {
  const lax = await runCli(['config', 'check'], { env: {} });
  assert.is(lax.code, 0, lax.stderr);
  assert.match(lax.stderr, 'thalamus: warning: SECRET_KEY is empty: each start makes a random key');
  assert.match(lax.stderr, 'thalamus: warning: CORS_ORIGINS is *: scripts of any web site may call the API');
  assert.match(lax.stderr, 'thalamus: warning: no database is configured (DATABASE_URL or POSTGRESQL_URI)');
  const set = await runCli(['config', 'check'], { env: { ...env(), THALAMUS_SECRET_KEY: 'k'.repeat(32), THALAMUS_CORS_ORIGINS: 'https://portal.example.org' } });
  assert.is(set.code, 0, set.stderr);
  assert.not.match(set.stderr, 'warning');
});

db('a DATABASE_URL that is no postgresql:// URL is exit 78 naming the variable, without echoing it', async () => {
  for (const url of ['not-a-url', 'host=db dbname=federation password=s3cret', 'mysql://u:s3cret@h/db']) {
    const r = await runCli(['user', 'unlock', 'ESPGNU777ORG'], { env: { ...env(), DATABASE_URL: url } });
    assert.is(r.code, 78, url);
    assert.is(r.stderr, 'thalamus: configuration error: environment variable DATABASE_URL: POSTGRESQL_URI: must be a postgresql:// URL (postgresql://user:password@host:5432/database)\n');
    assert.not.match(r.stderr, 's3cret');
  }
});

db('a bad configuration is exit 78 naming the file and line, before anything is done', async () => {
  const r = await runCli(['user', 'deactivate', 'ESPGNU777ORG'], { env: { ...env(), THALAMUS_PROCESSES: 'many' } });
  assert.is(r.code, 78);
  assert.is(r.stderr, 'thalamus: configuration error: environment variable THALAMUS_PROCESSES: PROCESSES: expected a whole number, got "many"\n');
  const { rows } = await d.pool.query(`SELECT data->'active' AS active FROM people WHERE id = 'ESPGNU777ORG'`);
  assert.is(rows[0].active, true);
});

db('serve runs the cluster (what npm start runs) and stops with exit 0 on SIGTERM', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: d.url, THALAMUS_LISTEN: `127.0.0.1:${port}`,
      THALAMUS_ADMIN_LISTEN: `127.0.0.1:${await freePort()}`, THALAMUS_PROCESSES: '1', THALAMUS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { exitCode = code; resolve(code); }));
  try {
    // Until it answers, or it has ended (then its stderr says why); a busy machine may take a while.
    let status = 0;
    for (let i = 0; i < 600 && status !== 200 && exitCode === undefined; i++) {
      status = await call(`http://127.0.0.1:${port}`, 'GET', '/login', { as: { user: 'ARGBUE111FAV', password: 'freedom' } }).then((res) => res.status, () => 0);
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.is(status, 200, `serve did not answer (exit ${exitCode}): ${stderr}`);
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0, stderr);
});

db('a start on a port another process holds: exit 1 and one line naming the setting, for LISTEN and for ADMIN_LISTEN', async () => {
  for (const key of ['LISTEN', 'ADMIN_LISTEN'] as const) {
    const held = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => held.listen(port, '127.0.0.1', resolve));
    try {
      const c = await startCluster({ DATABASE_URL: d.url, [`THALAMUS_${key}`]: `127.0.0.1:${port}` }, { ready: false });
      const exit = await within(c.exited, 60_000, 'the refused start');
      const out = c.output();
      assert.equal(exit, { code: 1, signal: null }, out);
      const said = `start-up failed: cannot listen on 127.0.0.1:${port} (${key}): another process listens there`;
      assert.is(out.split(said).length - 1, 1, out);
      assert.not.match(out, /EADDRINUSE|"stack"/);
    } finally {
      await new Promise((resolve) => held.close(resolve));
    }
  }
});

db.run();
