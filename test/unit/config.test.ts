// lib/config.ts: upstream's `KEY = VALUE` syntax, THALAMUS_<KEY> and DATABASE_URL
// overrides, and errors that name the key, the file and the line, also when
// server/main.ts is started with a bad file.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { loadConfig, loadConfigWithSources, parseConfigText, configKeys, ConfigError, ROOT, CONFIG_KEY_NAMES } from '../../lib/config.js';
import { runCli } from '../helpers/cli.js';

const t = suite('config');
let dir = '';
let n = 0;

/** Writes a configuration file in the temporary folder and returns its path. */
function cfg(text: string): string {
  const file = join(dir, `thalamus-${++n}.cfg`);
  writeFileSync(file, text);
  return file;
}

/** The ConfigError `fn` throws; fails when it throws nothing or something else. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as Error).message;
  }
  assert.unreachable('expected a ConfigError');
  return '';
}

t.before(() => { dir = mkdtempSync(join(tmpdir(), 'thalamus-config-')); });
t.after(() => { rmSync(dir, { recursive: true, force: true }); });

t('the shipped etc/thalamus.cfg loads, with the documented defaults', () => {
  const c = loadConfig(join(ROOT, 'etc', 'thalamus.cfg'), {});
  assert.is(c.file, join(ROOT, 'etc', 'thalamus.cfg'));
  assert.is(c.postgresqlUri, '');
  assert.is(c.acl, join(ROOT, 'etc', 'roles.cfg'));
  assert.equal(c.listen, { host: '127.0.0.1', port: 8080 });
  assert.is(c.processes, availableParallelism());
  assert.is(c.bodyLimit, 1024 * 1024);
  assert.is(c.listingShape, 'rows');
  assert.equal(c.deprecations, []);
  assert.equal(c.corsOrigins, ['*']);
  assert.is(c.logLevel, 'info');
  assert.is(c.dataDir, join(ROOT, 'var'));
  assert.is(c.dataDirGiven, false, 'the default, which a root start may move out of a private home folder');
});

t('etc/thalamus.cfg documents every key: a `KEY = value` line, or `# KEY = value` with the default; a deprecated one named in a comment', () => {
  const text = readFileSync(join(ROOT, 'etc', 'thalamus.cfg'), 'utf8');
  const lines = text.split('\n');
  // Examples rather than defaults: the default is empty (no TLS).
  const examples = new Set(['TLS_CERT', 'TLS_KEY']);
  const missing: string[] = [];
  const wrongDefault: string[] = [];
  for (const { key, default: value, deprecated, renamedFrom } of configKeys()) {
    if (renamedFrom && !text.includes(renamedFrom)) missing.push(`${renamedFrom} (the former name of ${key})`);
    if (deprecated) { if (!text.includes(key)) missing.push(key); continue; }
    const line = lines.find((l) => new RegExp(`^(# )?${key} = `).test(l));
    if (!line) { missing.push(key); continue; }
    if (!line.startsWith('#') || examples.has(key)) continue;
    // A commented line shows the default: read alone, it gives what no line gives.
    const field = configKeys().find((k) => k.key === key)!.field;
    const shown = loadConfig(cfg(line.slice(2)), {})[field];
    const byDefault = loadConfig(join(dir, 'none.cfg'), {})[field];
    if (JSON.stringify(shown) !== JSON.stringify(byDefault) || String(shown) !== String(byDefault)) wrongDefault.push(`${line} (default ${value})`);
  }
  assert.equal(missing, [], 'keys etc/thalamus.cfg does not document');
  assert.equal(wrongDefault, [], 'commented lines that are not the default');
  for (const line of lines.filter((l) => /^(# )?[A-Z][A-Z0-9_]+ = /.test(l))) {
    const key = line.replace(/^# /, '').split(' ')[0]!;
    assert.ok(CONFIG_KEY_NAMES.includes(key), `${key}: documented, but no key`);
  }
});

t('LISTING_BATCH_CHARS, formerly LISTING_BATCH_BYTES: the old name is still read, with a warning naming the new one', () => {
  const old = cfg('\nLISTING_BATCH_BYTES = "32KiB"\n');
  const c = loadConfig(old, {});
  assert.is(c.listingBatchChars, 32 * 1024);
  assert.equal(c.deprecations, [`${old}:2: LISTING_BATCH_BYTES is deprecated, renamed LISTING_BATCH_CHARS; read as LISTING_BATCH_CHARS`]);
  const both = cfg('LISTING_BATCH_BYTES = "32KiB"\nLISTING_BATCH_CHARS = 1000\n');
  assert.equal([loadConfig(both, {}).listingBatchChars, loadConfig(both, {}).deprecations],
    [1000, [`${both}:1: LISTING_BATCH_BYTES is deprecated and ignored: LISTING_BATCH_CHARS is set`]]);
  assert.is(loadConfig(old, { THALAMUS_LISTING_BATCH_CHARS: '16KiB' }).listingBatchChars, 16 * 1024, 'the environment over the file');
  assert.is(loadConfig(cfg('LISTING_BATCH_CHARS = 1000\n'), { THALAMUS_LISTING_BATCH_BYTES: '2000' }).listingBatchChars, 2000, 'the former name in the environment over the file');
  assert.is(configError(() => loadConfig(old, { THALAMUS_LISTING_BATCH_BYTES: '0' })),
    'environment variable THALAMUS_LISTING_BATCH_BYTES: LISTING_BATCH_BYTES: must be at least 1 character', 'named as the operator wrote it');
  assert.equal(loadConfig(join(ROOT, 'etc', 'thalamus.cfg'), {}).deprecations, [], 'the shipped file uses the new name');
});

t('bounds are declared with each key: the messages say the bound, its unit, or the other key', () => {
  const none = join(dir, 'none.cfg');
  const cases: Array<[Record<string, string>, string]> = [
    [{ THALAMUS_DOCUMENT_LIMIT: '1000' }, 'environment variable THALAMUS_DOCUMENT_LIMIT: DOCUMENT_LIMIT: must be at least 1 KiB'],
    [{ THALAMUS_CHANGES_PAGE_BYTES: '4095' }, 'environment variable THALAMUS_CHANGES_PAGE_BYTES: CHANGES_PAGE_BYTES: must be at least 4 KiB'],
    [{ THALAMUS_LOCKOUT_WINDOW: '0' }, 'environment variable THALAMUS_LOCKOUT_WINDOW: LOCKOUT_WINDOW: must be at least 1 second'],
    [{ THALAMUS_CHANGES_HEARTBEAT_MS: '99' }, 'environment variable THALAMUS_CHANGES_HEARTBEAT_MS: CHANGES_HEARTBEAT_MS: must be at least 100 ms'],
    [{ THALAMUS_PASSWORD_MIN_LENGTH: '257' }, 'environment variable THALAMUS_PASSWORD_MIN_LENGTH: PASSWORD_MIN_LENGTH: must be from 1 to 256 characters'],
    [{ THALAMUS_BCRYPT_COST_MAX: '32' }, 'environment variable THALAMUS_BCRYPT_COST_MAX: BCRYPT_COST_MAX: must be from 4 to 31'],
    [{ THALAMUS_PASSWORD_HASH: 'md5' }, 'environment variable THALAMUS_PASSWORD_HASH: PASSWORD_HASH: must be argon2id or bcrypt'],
    [{ THALAMUS_TRUSTED_PROXIES: '127.0.0.1 proxy' }, 'environment variable THALAMUS_TRUSTED_PROXIES: TRUSTED_PROXIES: "proxy" is not an address or CIDR range'],
    // A relation is named where the operator's value is, whichever of the two keys it was given to.
    [{ THALAMUS_BCRYPT_COST_MIN: '15' }, 'environment variable THALAMUS_BCRYPT_COST_MIN: BCRYPT_COST_MAX: must be at least BCRYPT_COST_MIN (15)'],
    [{ THALAMUS_SUBSCRIPTION_RETRY_MAX_MS: '500' }, 'environment variable THALAMUS_SUBSCRIPTION_RETRY_MAX_MS: SUBSCRIPTION_RETRY_MIN_MS: must be at most SUBSCRIPTION_RETRY_MAX_MS (500)'],
    [{ THALAMUS_ARGON2_MAX_TIME_COST: '1' }, 'environment variable THALAMUS_ARGON2_MAX_TIME_COST: ARGON2_MAX_TIME_COST: must be at least ARGON2_TIME_COST (2)'],
  ];
  for (const [env, message] of cases) assert.is(configError(() => loadConfig(none, env)), message);
  assert.is(loadConfig(none, { THALAMUS_BCRYPT_COST_MIN: '4', THALAMUS_BCRYPT_COST_MAX: '31' }).bcryptCostMax, 31, 'the bounds themselves accepted');
});

t('DATA_DIR given in the file or the environment is marked as given', () => {
  assert.is(loadConfig(cfg('DATA_DIR = "var"\n'), {}).dataDirGiven, true);
  assert.is(loadConfig(join(dir, 'none.cfg'), { THALAMUS_DATA_DIR: '/srv/thalamus' }).dataDirGiven, true);
  assert.is(loadConfig(join(dir, 'none.cfg'), {}).dataDirGiven, false);
});

t("upstream 0.9.16's etc/thalamus.cfg loads as it is", () => {
  const file = cfg([
    '#DB params',
    'POSTGRESQL_URI = "postgresql://localhost/federation"',
    '',
    '# Debugging info',
    'DEBUG = True',
    '',
    '#Flask Secret Key',
    "SECRET_KEY = 'TheWorldNeedsMoreSocialMedicine'",
    '',
    '# File containing the Access Control List and roles',
    "ACL = 'etc/roles.cfg'",
  ].join('\n'));
  const c = loadConfig(file, {});
  assert.equal([c.postgresqlUri, c.secretKey, c.acl, c.debug], ['postgresql://localhost/federation', 'TheWorldNeedsMoreSocialMedicine', join(ROOT, 'etc', 'roles.cfg'), true]);
});

t('a missing file means the defaults', () => {
  const c = loadConfig(join(dir, 'none.cfg'), {});
  assert.is(c.file, '');
  assert.equal(c.listen, { host: '127.0.0.1', port: 8080 });
});

t('upstream syntax: quoted strings, numbers, True/False, # comments', () => {
  const file = cfg([
    '# Thalamus configuration',
    '',
    'POSTGRESQL_URI = "postgresql://thalamus@db.example/federation"',
    "ACL='/etc/thalamus/roles.cfg'",
    '   LISTEN   =   "0.0.0.0:9000"   # all interfaces',
    'PROCESSES = 3',
    'BODY_LIMIT = "2MiB"',
    'LEGACY_ROW_ARRAYS = True',
    'CORS_ORIGINS = "https://a.example https://b.example"',
    "LOG_LEVEL = 'debug' # don't be quiet",
    'DATA_DIR = "/var/lib/thalamus" # where "state" lives',
    'SECRET_KEY = "a#b\\"c"',
    'POOL_SIZE = 4\t# tabs too',
  ].join('\n'));
  const c = loadConfig(file, {});
  assert.is(c.postgresqlUri, 'postgresql://thalamus@db.example/federation');
  assert.is(c.acl, '/etc/thalamus/roles.cfg');
  assert.equal(c.listen, { host: '0.0.0.0', port: 9000 });
  assert.is(c.processes, 3);
  assert.is(c.bodyLimit, 2 * 1024 * 1024);
  assert.is(c.listingShape, 'rows', 'the deprecated LEGACY_ROW_ARRAYS = True is read as LISTING_SHAPE = rows');
  assert.match(c.deprecations[0]!, /:8: LEGACY_ROW_ARRAYS is deprecated; read as LISTING_SHAPE = rows$/);
  assert.equal(c.corsOrigins, ['https://a.example', 'https://b.example']);
  assert.is(c.logLevel, 'debug');
  assert.is(c.dataDir, '/var/lib/thalamus');
  assert.is(c.secretKey, 'a#b"c');
  assert.is(c.poolSize, 4);
  assert.is(loadConfig(cfg('LEGACY_ROW_ARRAYS = False\nBODY_LIMIT = 4096\n'), {}).bodyLimit, 4096);
  assert.is(loadConfig(cfg('LEGACY_ROW_ARRAYS = False\r\n'), {}).listingShape, 'objects', 'CRLF lines');
  const both = loadConfig(cfg('LISTING_SHAPE = "rows"\nLEGACY_ROW_ARRAYS = False\n'), {});
  assert.equal([both.listingShape, both.deprecations.length], ['rows', 1], 'LISTING_SHAPE wins');
  assert.match(both.deprecations[0]!, /ignored: LISTING_SHAPE is set/);
  assert.throws(() => loadConfig(cfg('LISTING_SHAPE = "arrays"\n'), {}), /LISTING_SHAPE: must be rows or objects/);
  assert.is(loadConfig(cfg('ACL = "etc/roles.cfg"'), {}).acl, join(ROOT, 'etc', 'roles.cfg'), 'relative paths from the install folder');
});

t('parseConfigText returns each raw value with its line', () => {
  const parsed = parseConfigText('# c\nPROCESSES = 2\n\nLOG_LEVEL = "warn"\n', 'x.cfg');
  assert.equal([...parsed.entries()], [['PROCESSES', { value: '2', line: 2 }], ['LOG_LEVEL', { value: 'warn', line: 4 }]]);
});

t('THALAMUS_<KEY> overrides the file; DATABASE_URL and POSTGRESQL_URI name the database', () => {
  const file = cfg('PROCESSES = 3\nLEGACY_ROW_ARRAYS = True\nPOSTGRESQL_URI = "postgresql://file/db"\n');
  const c = loadConfig(file, { THALAMUS_PROCESSES: '5', THALAMUS_LEGACY_ROW_ARRAYS: 'False', THALAMUS_LISTEN: '8081', THALAMUS_BODY_LIMIT: '64KiB' });
  assert.is(c.processes, 5);
  assert.is(c.listingShape, 'objects', 'THALAMUS_LEGACY_ROW_ARRAYS = False, read as objects');
  assert.equal(c.listen, { host: '127.0.0.1', port: 8081 });
  assert.is(c.bodyLimit, 64 * 1024);
  assert.is(c.postgresqlUri, 'postgresql://file/db');
  assert.is(loadConfig(file, { DATABASE_URL: 'postgresql://env/db' }).postgresqlUri, 'postgresql://env/db');
  assert.is(loadConfig(file, { POSTGRESQL_URI: 'postgresql://upstream/db' }).postgresqlUri, 'postgresql://upstream/db');
  assert.is(loadConfig(file, { DATABASE_URL: 'postgresql://env/db', THALAMUS_POSTGRESQL_URI: 'postgresql://thalamus/db' }).postgresqlUri, 'postgresql://thalamus/db');
  assert.is(loadConfig(join(dir, 'none.cfg'), { DATABASE_URL: 'postgresql://env/db' }).postgresqlUri, 'postgresql://env/db');
});

t('an unknown key or a bad value in the file is a ConfigError naming the key, the file and the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['# ok\nPROCESSES = 2\nSERVER_NAME = "x"\n', /:3: unknown key SERVER_NAME$/],
    ['PROCESSES = "many"\n', /:1: PROCESSES: expected a whole number, got "many"$/],
    ['\n\nPROCESSES = 2.5\n', /:3: PROCESSES: expected a whole number/],
    ['LEGACY_ROW_ARRAYS = "maybe"\n', /:1: LEGACY_ROW_ARRAYS: expected True or False/],
    ['LISTEN = "localhost:99999"\n', /:1: LISTEN: expected HOST:PORT/],
    ['LOG_LEVEL = "loud"\n', /:1: LOG_LEVEL: expected one of fatal, error/],
    ['BODY_LIMIT = "lots"\n', /:1: BODY_LIMIT: expected a size/],
    ['ACL = etc/roles.cfg\n', /:1: ACL: expected a quoted string, a number, True or False/],
    ['LOG_LEVEL = "info\n', /:1: LOG_LEVEL: expected a quoted string/],
    ['PROCESSES = 2\nBODY_LIMIT = 100\n', /:2: BODY_LIMIT: must be at least 1 KiB$/],
    ['\nPAGE_LIMIT_MAX = 0\n', /:2: PAGE_LIMIT_MAX: must be at least 1$/],
  ];
  for (const [text, pattern] of cases) {
    const file = cfg(text);
    const message = configError(() => loadConfig(file, {}));
    assert.ok(message.startsWith(`${file}:`), `names the file: ${message}`);
    assert.match(message, pattern);
  }
  const noEquals = cfg('PROCESSES 2\n');
  assert.is(configError(() => loadConfig(noEquals, {})), `${noEquals}:1: expected KEY = VALUE`);
});

t('a bad value in the environment names the variable and the key', () => {
  const none = join(dir, 'none.cfg');
  assert.is(configError(() => loadConfig(none, { THALAMUS_PROCESSES: 'x' })),
    'environment variable THALAMUS_PROCESSES: PROCESSES: expected a whole number, got "x"');
  assert.match(configError(() => loadConfig(none, { THALAMUS_BODY_LIMIT: '10' })), /^environment variable THALAMUS_BODY_LIMIT: BODY_LIMIT: must be at least 1 KiB$/);
});

/** Runs server/main.ts with THALAMUS_CONFIG=file; resolves with its exit code and stderr. */
function runMain(file: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, THALAMUS_CONFIG: file },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

t('server/main.ts with a bad configuration file exits non-zero, naming key, file and line', async () => {
  const unknown = cfg('# bad\nLISTEN = "127.0.0.1:0"\nNO_SUCH_KEY = 1\n');
  const bad = cfg('LOG_LEVEL = "info"\nPROCESSES = "two"\n');
  const [a, b] = await Promise.all([runMain(unknown), runMain(bad)]);
  assert.is.not(a.code, 0);
  assert.is(a.code, 78);
  assert.is(a.stderr, `thalamus: configuration error: ${unknown}:3: unknown key NO_SUCH_KEY\n`);
  assert.is(b.code, 78);
  assert.is(b.stderr, `thalamus: configuration error: ${bad}:2: PROCESSES: expected a whole number, got "two"\n`);
});

t('loadConfigWithSources tells where each value came from; loadConfig gives the same configuration', () => {
  const file = cfg('# c\nPROCESSES = 3\n\nLOG_LEVEL = "warn"\n');
  const env = { THALAMUS_LOG_LEVEL: 'debug', DATABASE_URL: 'postgresql://env/db' };
  const { config, sources } = loadConfigWithSources(file, env);
  assert.equal(config, loadConfig(file, env));
  assert.is(sources.get('PROCESSES'), `${file}:2`);
  assert.is(sources.get('LOG_LEVEL'), 'environment variable THALAMUS_LOG_LEVEL');
  assert.is(sources.get('POSTGRESQL_URI'), 'environment variable DATABASE_URL');
  assert.is(sources.get('BODY_LIMIT'), 'default of BODY_LIMIT');
});

t('thalamus config check prints every value with its source, and never a secret', async () => {
  const file = cfg('# site\nLISTEN = "0.0.0.0:9000"\nSECRET_KEY = "correct-horse-battery-staple"\n');
  const r = await runCli(['config', 'check'], {
    env: { THALAMUS_CONFIG: file, DATABASE_URL: 'postgresql://thalamus:hunter2@db.example:5432/federation?sslmode=require', THALAMUS_POOL_SIZE: '4' },
  });
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.ok(out.startsWith(`configuration file: ${file}\n`));
  const line = (key: string) => out.split('\n').find((l) => l.startsWith(`${key} `)) ?? '';
  assert.match(line('LISTEN'), new RegExp(`^LISTEN +0\\.0\\.0\\.0:9000 +${file.replace(/[.]/g, '\\.')}:2$`));
  assert.match(line('SECRET_KEY'), /^SECRET_KEY +\(set, 28 characters\) +.*:3$/);
  assert.match(line('POSTGRESQL_URI'), /^POSTGRESQL_URI +postgresql:\/\/thalamus:\*\*\*@db\.example:5432\/federation\?sslmode=require +environment variable DATABASE_URL$/);
  assert.match(line('POOL_SIZE'), /^POOL_SIZE +4 +environment variable THALAMUS_POOL_SIZE$/);
  assert.match(line('BODY_LIMIT'), /^BODY_LIMIT +1048576 +default$/);
  assert.match(line('PERSON_ID_PATTERN'), /^PERSON_ID_PATTERN +\^\[A-Za-z0-9\._-\]\{1,128\}\$ +default$/);
  assert.is(out.split('\n').filter((l) => /^[A-Z0-9_]+ {2,}/.test(l)).length, CONFIG_KEY_NAMES.length, 'every key');
  assert.match(out, /\nroles: .*roles\.cfg: end_user, health_professional, root\nconfiguration OK\n$/);
  assert.not.match(out + r.stderr, /hunter2|correct-horse/);
});

t('thalamus config check warns of a deprecated key, as a start does, and reads it under its new name', async () => {
  const file = cfg('# site\nLISTING_BATCH_BYTES = "64KiB"\n');
  // Set as production would, so that the deprecation is the only warning.
  const production = { DATABASE_URL: 'postgresql://thalamus@db.example.org/federation', THALAMUS_SECRET_KEY: 'k'.repeat(32), THALAMUS_CORS_ORIGINS: 'https://portal.example.org' };
  const r = await runCli(['config', 'check'], { env: { THALAMUS_CONFIG: file, ...production } });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, `thalamus: warning: ${file}:2: LISTING_BATCH_BYTES is deprecated, renamed LISTING_BATCH_CHARS; read as LISTING_BATCH_CHARS\n`);
  assert.match(r.stdout, new RegExp(`\nLISTING_BATCH_CHARS +65536 +${file.replace(/[.]/g, '\\.')}:2\n`));
  assert.not.match(r.stdout, /LISTING_BATCH_BYTES/);
});

t('thalamus config check: exit 78 naming the file and line of a bad thalamus.cfg or roles.cfg', async () => {
  const bad = cfg('LOG_LEVEL = "info"\nPROCESSES = "two"\n');
  const r = await runCli(['config', 'check'], { env: { THALAMUS_CONFIG: bad } });
  assert.is(r.code, 78);
  assert.is(r.stderr, `thalamus: configuration error: ${bad}:2: PROCESSES: expected a whole number, got "two"\n`);
  assert.is(r.stdout, '');
  const roles = join(dir, 'roles.cfg');
  writeFileSync(roles, '[\n  {"role": "root",\n   "permissions": {"GET": ["login"],}}\n]\n');
  const a = await runCli(['config', 'check'], { env: { THALAMUS_CONFIG: cfg(`ACL = "${roles}"\n`) } });
  assert.is(a.code, 78);
  assert.match(a.stderr, new RegExp(`^thalamus: configuration error: ${roles.replace(/[.]/g, '\\.')}: not valid JSON \\(line 3, column \\d+\\): `));
});

t('thalamus config check: exit 78 naming the file, the role and the name of an unknown ACL name or method in roles.cfg', async () => {
  const roles = join(dir, 'typo-roles.cfg');
  writeFileSync(roles, JSON.stringify([
    { role: 'end_user', permissions: { GET: ['login', 'person'], global: 'False' } },
    { role: 'node', permissions: { GET: ['login', 'pepole'], PUT: ['person'], global: 'True' } },
  ]));
  const r = await runCli(['config', 'check'], { env: { THALAMUS_CONFIG: cfg(`ACL = "${roles}"\n`) } });
  assert.is(r.code, 78);
  assert.is(r.stdout, '');
  assert.is(r.stderr, [
    `thalamus: configuration error: ${roles}: role "node": unknown method "PUT" (roles.cfg lists names under GET, POST, PATCH, DELETE)`,
    `thalamus: configuration error: ${roles}: role "node": GET names an unknown ACL name "pepole"`,
    '',
  ].join('\n'));
});

t('a start with such a roles.cfg warns of each, naming file, role and name, and goes on (upstream and older files keep starting)', async () => {
  const roles = join(dir, 'typo-start-roles.cfg');
  writeFileSync(roles, JSON.stringify([{ role: 'node', permissions: { GET: ['login', 'pepole'], global: 'True' } }]));
  // The warnings come before the database is opened: one that answers nothing is enough.
  const file = cfg(`ACL = "${roles}"\nLISTING_BATCH_BYTES = "64KiB"\nPOSTGRESQL_URI = "postgresql://thalamus@127.0.0.1:1/none"\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, THALAMUS_CONFIG: file }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const closed = new Promise((r) => child.once('close', r));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => { out += chunk; });
  child.stderr.on('data', (chunk: Buffer) => { out += chunk; });
  const deadline = Date.now() + 30_000;
  // It may also end by itself, the database answering nothing.
  while (!/pepole/.test(out) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await closed;
  const warnings = out.split('\n').filter((l) => l.includes('"level":40')).map((l) => (JSON.parse(l) as { msg: string }).msg);
  assert.equal(warnings.slice(0, 2), [
    `${file}:2: LISTING_BATCH_BYTES is deprecated, renamed LISTING_BATCH_CHARS; read as LISTING_BATCH_CHARS`,
    `${roles}: role "node": GET names an unknown ACL name "pepole": it grants nothing`,
  ], out);
});

t.run();
