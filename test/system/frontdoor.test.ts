// The front door as a new user walks through it: a copy of this checkout in a private
// folder (mode 0700, as /root is), then `npm start` with no database configured. As
// root, PostgreSQL runs as user postgres, which cannot reach that folder: the start must
// still work, say in one log line where the binaries and the data are, answer the demo
// account, and leave no PostgreSQL behind on SIGTERM. Not as root it works trivially,
// and is checked all the same.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, accessSync, constants } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { ROOT } from '../../lib/config.js';
import { pgAccount } from '../../lib/db/pg-account.js';
import { packagedBinaries, reachableBinaries } from '../../lib/db/pg-binaries.js';
import { readPidFile, stopPid } from '../../lib/db/postmaster.js';
import { argsOf, isAlive } from '../../lib/db/proc.js';
import { ANA, call } from '../helpers/http.js';
import { childPids, freePort, waitFor } from '../helpers/cluster.js';

const t = suite('front door: npm start from a checkout in a 0700 folder');
const asRoot = process.getuid?.() === 0;
/** What a fresh clone does not have (node_modules is linked in separately). */
const NOT_CLONED = new Set(['node_modules', 'dist', 'var', '.git', 'test-output', 'dist-bench']);
let parent: string;
let clone: string;
let npm: ChildProcess | undefined;
let out = '';
let databaseDir: string | undefined;

/** A private folder in the home folder (where a first try happens), else in the temp folder. */
function privateFolder(): string {
  let base = homedir();
  try { accessSync(base, constants.W_OK); } catch { base = tmpdir(); }
  const dir = mkdtempSync(join(base, 'thalamus-frontdoor-'));
  chmodSync(dir, 0o700);
  return dir;
}

/** The primary among the descendants of `pid` (npm runs it through a shell). */
function primaryUnder(pid: number): number | undefined {
  for (const child of childPids(pid)) {
    // The element itself: the shell's one argument is the whole command line.
    if (argsOf(child)?.includes(join('dist', 'server', 'main.js'))) return child;
    const deeper = primaryUnder(child);
    if (deeper) return deeper;
  }
  return undefined;
}

t.before(() => {
  parent = privateFolder();
  clone = join(parent, 'thalamus');
  cpSync(ROOT, clone, { recursive: true, verbatimSymlinks: true, filter: (src) => !NOT_CLONED.has(relative(ROOT, src).split(sep)[0]!) });
  // Hard links: as fast as a local cache, with the same files npm would have installed.
  const linked = spawnSync('cp', ['-al', join(ROOT, 'node_modules'), join(clone, 'node_modules')]);
  if (linked.status !== 0) cpSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), { recursive: true, verbatimSymlinks: true });
});

t.after(async () => {
  // npm's process group (npm, its shell, the primary and its workers), if a failure left it.
  if (npm) { try { process.kill(-npm.pid!, 'SIGKILL'); } catch { /* gone */ } }
  const pm = databaseDir ? readPidFile(databaseDir)?.pid : undefined;
  if (pm && isAlive(pm)) await stopPid(pm);
  rmSync(parent, { recursive: true, force: true });
  // A root start keeps the data of this clone outside it; the shared binaries stay.
  if (databaseDir && !databaseDir.startsWith(parent + sep) && /[/\\]data-thalamus-[0-9a-f]{8}$/.test(dirname(databaseDir))) {
    rmSync(dirname(databaseDir), { recursive: true, force: true });
  }
});

t('the copy is in a folder of mode 0700', () => {
  assert.is(lstatSync(parent).mode & 0o777, 0o700);
});

t('npm start serves GET /login for the demo account; SIGTERM stops it, exit 0, and its PostgreSQL with it', async () => {
  const port = await freePort();
  const admin = await freePort();
  const env: NodeJS.ProcessEnv = {};
  // The outer npm's variables (npm_*) would describe this checkout, not the copy.
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  for (const k of ['DATABASE_URL', 'POSTGRESQL_URI', 'THALAMUS_POSTGRESQL_URI', 'THALAMUS_DATA_DIR', 'THALAMUS_CONFIG']) delete env[k];
  // A fresh machine: no sign of production (server/start-mode.ts), which would refuse the embedded database.
  for (const k of ['NODE_ENV', 'INVOCATION_ID', 'NOTIFY_SOCKET']) delete env[k];
  Object.assign(env, { THALAMUS_LISTEN: `127.0.0.1:${port}`, THALAMUS_ADMIN_LISTEN: `127.0.0.1:${admin}`, THALAMUS_PROCESSES: '1', THALAMUS_LOG_LEVEL: 'info', THALAMUS_LOG_JSON: '1', npm_config_update_notifier: 'false' });
  const started = Date.now();
  npm = spawn('npm', ['start'], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  npm.stdout!.on('data', (d: Buffer) => { out += d; });
  npm.stderr!.on('data', (d: Buffer) => { out += d; });
  const exited = new Promise<number | null>((resolve) => npm!.once('exit', (code) => resolve(code)));
  await waitFor('GET /login to answer', async () => {
    if (npm!.exitCode !== null) throw new Error(`npm start exited with ${npm!.exitCode}:\n${out}`);
    return call(`http://127.0.0.1:${port}`, 'GET', '/login', { as: ANA }).then((r) => r.status === 200 && r.text === 'true', () => false);
  }, 180_000).catch((err: Error) => { throw new Error(`${err.message}\n${out}`); });
  const readyMs = Date.now() - started;

  const where = out.split('\n').find((l) => l.includes('embedded PostgreSQL listening on'));
  assert.ok(where, `a log line says where PostgreSQL is:\n${out}`);
  const m = /data in (\S+), binaries in ([^"]+)"/.exec(where!);
  assert.ok(m, where);
  databaseDir = m![1]!;
  const binaries = m![2]!;
  if (asRoot) {
    assert.ok(!databaseDir.startsWith(parent + sep), `root: data outside the private folder (${databaseDir})`);
    assert.ok(!binaries.startsWith(parent + sep), `root: binaries outside the private folder (${binaries})`);
    assert.match(out, `user postgres cannot reach ${join(clone, 'var')}, so the embedded PostgreSQL keeps its data in ${dirname(databaseDir)}`);
  } else {
    assert.is(databaseDir, join(clone, 'var', 'postgres'));
    assert.ok(binaries.startsWith(join(clone, 'node_modules')), binaries);
  }
  const pm = readPidFile(databaseDir)!.pid;
  assert.ok(isAlive(pm));
  const primary = primaryUnder(npm.pid!);
  assert.ok(primary, 'the primary runs under npm');
  process.kill(primary!, 'SIGTERM');
  const code = await exited;
  process.stdout.write(`  [front door] ${asRoot ? 'root' : 'not root'}: answered GET /login ${readyMs} ms after npm start; data in ${databaseDir}, binaries in ${binaries}; npm exit ${code}\n`);
  assert.is(code, 0);
  assert.not.ok(isAlive(pm), 'PostgreSQL stopped');
  assert.not.ok(existsSync(join(databaseDir, 'postmaster.pid')), 'cleanly');
});

t('as root, binaries out of reach are copied where user postgres can run them, once', async () => {
  const account = pgAccount();
  const packaged = await packagedBinaries();
  // The packaged binaries seen from inside the private folder, as a checkout there has them.
  const hidden = { ...packaged, dir: join(clone, 'node_modules', relative(join(ROOT, 'node_modules'), packaged.dir)) };
  const inClone = { ...hidden, postgres: join(hidden.dir, 'bin', 'postgres'), initdb: join(hidden.dir, 'bin', 'initdb') };
  const home = mkdtempSync(join(tmpdir(), 'thalamus-home-'));
  chmodSync(home, 0o755);
  try {
    const placed = reachableBinaries(inClone, account, () => home);
    if (!account) {
      assert.equal(placed, inClone, 'not root: used where they are');
      return;
    }
    assert.ok(placed.dir.startsWith(home + sep), placed.dir);
    const version = spawnSync(placed.postgres, ['--version'], { uid: account.uid, gid: account.gid, encoding: 'utf8' });
    assert.match(version.stdout, /^postgres \(PostgreSQL\) \d+/);
    const lib = join(placed.dir, 'lib');
    const links = readdirSync(lib).filter((f) => lstatSync(join(lib, f)).isSymbolicLink());
    assert.ok(links.length > 0 && links.every((f) => !readlinkSync(join(lib, f)).startsWith('/')), 'the library links stay relative');
    const st = lstatSync(placed.postgres);
    assert.equal([st.uid, st.mode & 0o022], [0, 0], 'owned by root, writable by root only');
    const again = reachableBinaries(inClone, account, () => home);
    assert.equal(again, placed);
    assert.equal(lstatSync(placed.postgres).mtimeMs, st.mtimeMs, 'not copied twice');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

t.run();
