// `npm run bench`: builds a bench database, runs every scenario against Thalamus and the
// baseline (each behind bench/cluster.ts with the same number of workers), prints one
// table, and drops the database. Never run by the tests. Options (flags or env):
//   --people N   (BENCH_PEOPLE, 1000000)  people generated; scenario (d) streams them all
//   --pages k    (BENCH_PAGES, 1)         pages per generated person
//   --duration s (BENCH_DURATION, 10)     seconds per autocannon run
//   --connections c (BENCH_CONNECTIONS, 50)
//   --workers w  (BENCH_WORKERS, 2)
//   --only a,b   (BENCH_ONLY)             scenarios to run (a b c d e invalidation import changes scale);
//                                         `changes` and `scale` run only when named (bench/changes.ts,
//                                         bench/scale.ts: one instance vs two behind nginx; alone, 100,000 people)
//   --quick                               20,000 people, 3 s runs
// The change-feed measurement (--only changes) also reads BENCH_CHANGES_RATE (500
// writes/s), BENCH_CHANGES_ROWS (200,000 rows paged; 50,000 with --quick) and
// BENCH_SSE_SUBSCRIBERS (1000); run alone, it generates only 1,000 people.
//   --cpu-prof                            Thalamus workers write .cpuprofile files to bench/profiles
// BENCH_DATABASE_URL names the PostgreSQL server (its maintenance database; default
// postgresql://postgres@127.0.0.1:5432/postgres); when it cannot be reached an embedded
// PostgreSQL is started in a temporary folder.
import { parseArgs } from 'node:util';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { mkdtempSync, rmSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ROOT } from '../lib/config.js';
import { startEmbedded, type EmbeddedDatabase } from '../lib/db/embedded.js';
import { migrate, loadDemo } from '../lib/db/migrate.js';
import { hashPassword } from '../lib/auth/passwords.js';
import { generatePeople, generatePages } from './generate.js';
import { launch, buildBench, type Launched } from './launch.js';
import { SCENARIOS, streamPeople, copyRate, warmUp, type Measured } from './scenarios.js';
import { measureInvalidation } from './invalidation.js';
import { measureBulk } from './import.js';
import { printTable, type Row } from './table.js';
import { measureChanges } from './changes.js';
import { measureScale } from './scale.js';

const { values: flags } = parseArgs({
  options: {
    people: { type: 'string' }, pages: { type: 'string' }, duration: { type: 'string' },
    connections: { type: 'string' }, workers: { type: 'string' }, only: { type: 'string' },
    quick: { type: 'boolean' }, 'cpu-prof': { type: 'boolean' },
  },
});
const env = process.env;
const num = (flag: string | undefined, name: string, quick: number, full: number) =>
  Number(flag ?? env[name] ?? (flags.quick ? quick : full));
const opts = {
  people: num(flags.people, 'BENCH_PEOPLE', 20_000, 1_000_000),
  pages: num(flags.pages, 'BENCH_PAGES', 1, 1),
  duration: num(flags.duration, 'BENCH_DURATION', 3, 10),
  connections: num(flags.connections, 'BENCH_CONNECTIONS', 50, 50),
  workers: num(flags.workers, 'BENCH_WORKERS', 2, 2),
  only: (flags.only ?? env.BENCH_ONLY ?? 'a,b,c,d,e,invalidation').split(',').map((s) => s.trim()),
  cpuProf: Boolean(flags['cpu-prof']),
};
// The change feed alone needs people to write pages for, not a million of them; the
// scale runs read random people, for which a table of 100,000 is as good.
if (opts.only.every((k) => k === 'changes') && flags.people === undefined && env.BENCH_PEOPLE === undefined) opts.people = 1000;
if (opts.only.every((k) => k === 'scale') && flags.people === undefined && env.BENCH_PEOPLE === undefined) opts.people = 100_000;
const changesOpts = {
  workers: opts.workers, duration: opts.duration, people: opts.people,
  rate: Number(env.BENCH_CHANGES_RATE ?? 500),
  rows: Number(env.BENCH_CHANGES_ROWS ?? (flags.quick ? 50_000 : 200_000)),
  subscribers: Number(env.BENCH_SSE_SUBSCRIBERS ?? 1000),
};
export const ACCOUNT = { user: 'BENCH0ROOT01', password: 'bench-password-1' };

async function adminUrl(): Promise<{ url: string; embedded?: EmbeddedDatabase; dir?: string }> {
  const url = env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await probe.connect();
    await probe.end();
    return { url };
  } catch {
    await probe.end().catch(() => undefined);
    const dir = mkdtempSync(join(tmpdir(), 'thalamus-bench-'));
    chmodSync(dir, 0o755); // the embedded server may run as another user
    const embedded = await startEmbedded(dir);
    // It runs in a process group of its own, out of Ctrl-C's reach: stop it on the way out.
    process.once('SIGINT', () => void embedded.stop().finally(() => { rmSync(dir, { recursive: true, force: true }); process.exit(130); }));
    return { url: embedded.url.replace(/\/federation$/, '/postgres'), embedded, dir };
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function main(): Promise<void> {
  buildBench();
  const admin = await adminUrl();
  const name = `thalamus_bench_${process.pid}`;
  const adminClient = new pg.Client({ connectionString: admin.url });
  await adminClient.connect();
  await adminClient.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(admin.url, name);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // The final DROP DATABASE ... WITH (FORCE) may reach a connection still closing.
  pool.on('error', () => undefined);
  const servers: Launched[] = [];
  try {
    log(`machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`);
    log(`database ${name}: generating ${opts.people} people with ${opts.pages} page(s) each`);
    await migrate(pool);
    await loadDemo(pool);
    const took = await generatePeople(pool, opts.people, { pages: opts.pages });
    // The person of scenario (c) gets a book of 50 pages.
    await generatePages(pool, 1, 1, 50);
    await pool.query(`INSERT INTO people (id, data) VALUES ($1::text, jsonb_build_object('id', $1::text, 'name', 'Bench', 'lastname', 'Root', 'roles', '["root"]'::jsonb, 'active', true, 'password', $2::text))`,
      [ACCOUNT.user, await hashPassword(ACCOUNT.password)]);
    await pool.query('VACUUM ANALYZE');
    log(`generated in ${(took / 1000).toFixed(1)} s`);

    const rows: Row[] = [];
    const ctx = { people: opts.people, duration: opts.duration, connections: opts.connections, account: ACCOUNT };
    const profDir = join(ROOT, 'bench', 'profiles');
    if (opts.cpuProf) mkdirSync(profDir, { recursive: true });
    const results: Record<string, { thalamus?: Measured; old?: Measured; baseline?: Measured }> = {};
    // Both clusters run side by side (the idle one costs nothing) and each scenario runs on
    // the baseline and then on Thalamus back to back, so both see the same machine load.
    const scenarios = SCENARIOS.filter((s) => opts.only.includes(s.key));
    if (scenarios.length) {
      const base = await launch('baseline', url, opts.workers);
      servers.push(base);
      const thalamus = await launch('thalamus', url, opts.workers, opts.cpuProf ? profDir : undefined);
      servers.push(thalamus);
      // The old path, for the comparison: every request reads the login first.
      const old = await launch('thalamus', url, opts.workers, undefined, { THALAMUS_SINGLE_ROUND_TRIP: 'False' });
      servers.push(old);
      await warmUp(base.base, ctx);
      await warmUp(thalamus.base, ctx);
      await warmUp(old.base, ctx);
      for (const s of scenarios) {
        log(`baseline: (${s.key}) ${s.title}`);
        const baseline = await s.run(base.base, ctx);
        log(`thalamus: (${s.key}) ${s.title}`);
        const measured = await s.run(thalamus.base, ctx);
        log(`thalamus, two round trips: (${s.key}) ${s.title}`);
        results[s.key] = { baseline, thalamus: measured, old: await s.run(old.base, ctx) };
      }
      await Promise.all(servers.splice(0).map((x) => x.stop()));
    }
    if (opts.only.includes('d')) {
      // A fresh cluster, so the peak RSS is the listing's and not what earlier runs left.
      const thalamus = await launch('thalamus', url, opts.workers, opts.cpuProf ? profDir : undefined);
      servers.push(thalamus);
      log('thalamus: (d) GET /people, streamed');
      const streamed = await streamPeople(thalamus, ctx);
      await Promise.all(servers.splice(0).map((x) => x.stop()));
      log('psql: COPY (SELECT data FROM people) TO STDOUT');
      const copy = await copyRate(url);
      rows.push({
        key: 'd', title: `GET /people, ${streamed.rows} rows streamed`,
        thalamus: `${Math.round(streamed.rowsPerSecond)} rows/s, RSS ${streamed.startRssMb} -> peak ${streamed.peakRssMb} MB`,
        baseline: copy ? `psql COPY ${Math.round(copy.rowsPerSecond)} rows/s` : 'psql not found',
        ratio: copy ? streamed.rowsPerSecond / copy.rowsPerSecond : undefined,
        target: `>= 0.80, RSS <= 150 MB`,
      });
    }
    for (const s of SCENARIOS) {
      const r = results[s.key];
      if (!r?.thalamus) continue;
      rows.push({ key: s.key, title: s.title, measured: r.thalamus, old: r.old, base: r.baseline, target: s.target, ratio: r.baseline ? r.thalamus.rps / r.baseline.rps : undefined });
    }
    rows.sort((x, y) => x.key.localeCompare(y.key));
    if (rows.length) printTable(rows, opts);
    if (opts.only.includes('import')) {
      log(`thalamus export > file, thalamus import < file into an empty database, and again (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
      const b = await measureBulk(url, admin.url, `${name}_import`);
      const mb = (b.bytes / 2 ** 20).toFixed(0);
      process.stdout.write([
        '',
        '| bulk (the CLI, compiled) | rows | time | rate | target |',
        '|---|---|---|---|---|',
        `| thalamus export > file (${mb} MiB) | ${b.rows} | ${b.exportSeconds.toFixed(1)} s | ${Math.round(b.rows / b.exportSeconds)} rows/s | - |`,
        `| thalamus import < file, empty database | ${b.rows} (${b.people} people) | ${b.importSeconds.toFixed(1)} s | ${Math.round(b.rows / b.importSeconds)} rows/s | - |`,
        `| the same import again (changes nothing) | ${b.rows} | ${b.reimportSeconds.toFixed(1)} s | ${Math.round(b.rows / b.reimportSeconds)} rows/s | - |`,
        `| thalamus import < people only, empty database | ${b.people} | ${b.peopleOnlySeconds.toFixed(1)} s | ${Math.round(b.people / b.peopleOnlySeconds)} people/s | >= 50000 people/s |`,
        `| round trip identical (digest of every row) | | | ${b.identical ? 'yes' : '**NO**'} | yes |`,
        `| peak RSS of the CLI | | | ${b.peakRssMb} MB | constant |`,
        `load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
        '',
      ].join('\n'));
    }
    if (opts.only.includes('invalidation')) {
      log('credential invalidation: re-reading the row per request vs LISTEN/NOTIFY');
      await measureInvalidation(url, ACCOUNT);
    }
    if (opts.only.includes('changes')) await measureChanges(url, ACCOUNT, changesOpts, log);
    if (opts.only.includes('scale')) {
      log(`scale: one instance vs two behind nginx (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
      await measureScale(url, ACCOUNT, { workers: opts.workers, duration: opts.duration, connections: opts.connections, people: opts.people }, log);
      log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    }
  } finally {
    await Promise.all(servers.map((x) => x.stop().catch(() => undefined)));
    await pool.end().catch(() => undefined);
    await adminClient.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await adminClient.end().catch(() => undefined);
    await admin.embedded?.stop().catch(() => undefined);
    if (admin.dir) rmSync(admin.dir, { recursive: true, force: true });
  }
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
