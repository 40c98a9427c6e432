// The bulk scenario (`npm run bench -- --only import`): the real CLI, compiled as
// operators run it, exports the bench database to an NDJSON file, imports it into an
// empty database, imports it again (idempotent: nothing may change), and the two
// databases are compared row for row by digest; the people alone (`export --kinds
// person`) are imported first, into another empty database. Reported: rows/s of the export,
// the imports' rates (the target: 50,000 people per second into an empty database), the
// re-import's time, the file's size, and the CLI's peak RSS (constant memory).
import { spawn } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ROOT } from '../lib/config.js';
import { migrate } from '../lib/db/migrate.js';

export interface BulkMeasure {
  rows: number;
  people: number;
  bytes: number;
  exportSeconds: number;
  importSeconds: number;
  reimportSeconds: number;
  /** `export --kinds person` imported into another empty database: the people-only rate. */
  peopleOnlySeconds: number;
  peakRssMb: number;
  identical: boolean;
}

interface Run { seconds: number; peakRssMb: number }

/** Runs the compiled CLI with `args`, stdin and stdout from and to files; its time and peak RSS (VmHWM). */
function cli(args: string[], databaseUrl: string, files: { stdin?: string; stdout?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    // The files themselves as standard input and output, as a shell's `< file` and `> file`
    // give them: no pipe through this process, whose copying would be counted as the CLI's.
    const stdin = files.stdin ? openSync(files.stdin, 'r') : 'ignore';
    const stdout = files.stdout ? openSync(files.stdout, 'w', 0o600) : 'ignore';
    const child = spawn(process.execPath, [join(ROOT, 'dist-bench/server/cli/main.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: [stdin, stdout, 'inherit'],
    });
    for (const fd of [stdin, stdout]) if (typeof fd === 'number') closeSync(fd);
    let peak = 0;
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch { /* exited */ }
    }, 200);
    child.once('error', reject);
    child.once('close', (code) => {
      clearInterval(timer);
      if (code !== 0) { reject(new Error(`thalamus ${args.join(' ')} exited with ${code}`)); return; }
      resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, peakRssMb: Math.round(peak) });
    });
  });
}

/** One digest of every row of the five tables, to tell two databases apart. */
async function digest(url: string): Promise<string> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => undefined);
  try {
    const parts: string[] = [];
    for (const [table, cols] of [['people', 'id, data'], ['dus', 'id, data'], ['institutions', 'id, data'], ['pols', 'id, book, data'], ['personal_docs', 'id, fedacct, pol, md5(document), data']]) {
      const { rows } = await pool.query<{ d: string }>(`SELECT md5(string_agg(md5(row(${cols})::text), '' ORDER BY id)) AS d FROM ${table}`);
      parts.push(`${table}:${rows[0]!.d}`);
    }
    return parts.join(' ');
  } finally {
    await pool.end();
  }
}

export async function measureBulk(sourceUrl: string, adminUrl: string, target: string): Promise<BulkMeasure> {
  const dir = mkdtempSync(join(tmpdir(), 'thalamus-bulk-'));
  const file = join(dir, 'federation.ndjson');
  const peopleFile = join(dir, 'people.ndjson');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const urlOf = (name: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const targetUrl = urlOf(target);
  /** A new empty database with the schema, so an import's time is the import's. */
  const empty = async (name: string) => {
    await admin.query(`CREATE DATABASE ${name}`);
    const pool = new pg.Pool({ connectionString: urlOf(name), max: 1 });
    await migrate(pool);
    await pool.end();
    return urlOf(name);
  };
  try {
    const source = new pg.Pool({ connectionString: sourceUrl, max: 1 });
    const { rows } = await source.query<{ people: number; rows: number }>(
      `SELECT (SELECT count(*) FROM people)::int AS people,
        ((SELECT count(*) FROM people) + (SELECT count(*) FROM pols) + (SELECT count(*) FROM dus) + (SELECT count(*) FROM institutions) + (SELECT count(*) FROM personal_docs))::int AS rows`);
    await source.end();
    const exported = await cli(['export'], sourceUrl, { stdout: file });
    await cli(['export', '--kinds', 'person'], sourceUrl, { stdout: peopleFile });
    // Each timed import starts from a clean state: no dirty buffers of the last step
    // still being written, neither PostgreSQL's (CHECKPOINT needs a superuser; without one
    // it is skipped) nor the exported files' (1.3 GiB that the kernel otherwise writes
    // back during the first import: 32,104 people/s measured so, 51,014 with the flush).
    for (const f of [file, peopleFile]) {
      const fd = openSync(f, 'r');
      fsyncSync(fd);
      closeSync(fd);
    }
    const settle = () => admin.query('CHECKPOINT').catch(() => undefined);
    const peopleUrl = await empty(`${target}_people`);
    await settle();
    const peopleOnly = await cli(['import'], peopleUrl, { stdin: peopleFile });
    await admin.query(`DROP DATABASE IF EXISTS ${target}_people WITH (FORCE)`);
    await empty(target);
    await settle();
    const imported = await cli(['import'], targetUrl, { stdin: file });
    await settle();
    const again = await cli(['import'], targetUrl, { stdin: file });
    const a = await digest(sourceUrl);
    const b = await digest(targetUrl);
    return {
      rows: rows[0]!.rows, people: rows[0]!.people, bytes: statSync(file).size,
      exportSeconds: exported.seconds, importSeconds: imported.seconds, reimportSeconds: again.seconds, peopleOnlySeconds: peopleOnly.seconds,
      peakRssMb: Math.max(exported.peakRssMb, imported.peakRssMb, again.peakRssMb, peopleOnly.peakRssMb), identical: a === b,
    };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${target} WITH (FORCE)`).catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${target}_people WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
