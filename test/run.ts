// `npm test [pattern]` runs the three tiers of the suite against a real PostgreSQL and
// prints one closing line `N passed, N failed[, N skipped]`; `npm run test:quick
// [pattern]` runs the first two. The pattern is a regular expression on the files'
// names (`api|acl`).
//
//   test/unit    pure: no database, no server; one process, seconds.
//   test/api     a server on a database of its own per file: files run in parallel
//                (TEST_JOBS at once, default the CPU count + 1, fewer when the server's
//                max_connections would not hold them), each in its process.
//   test/system  process models, nginx, chromium, the PostgreSQL test bed, memory and
//                latency bounds. Those whose first line is `// test: alone (why)` measure
//                something other work on the machine would disturb: they run last, one
//                at a time; the others run in parallel with the api tier.
//
// TEST_DATABASE_URL names a PostgreSQL server (its maintenance database); without it an
// embedded PostgreSQL is started in a temporary folder and removed after.
import '../server/threadpool.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startEmbedded, type EmbeddedDatabase } from '../lib/db/embedded.js';

/** A phase of the run: files (`tier/name`) run `jobs` at a time, or all in one process. */
interface Phase { name: string; files: string[]; jobs: number; together?: boolean }

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const pattern = new RegExp(args.find((a) => !a.startsWith('--')) ?? '\\.test\\.ts$');
const JOBS = Math.max(1, Number(process.env.TEST_JOBS) || availableParallelism() + 1);

/** The tier's test files that match the pattern, as `tier/name`. */
function filesOf(tier: string): string[] {
  return readdirSync(`test/${tier}`).filter((f) => f.endsWith('.test.ts') && pattern.test(f)).sort().map((f) => `${tier}/${f}`);
}

/**
 * How long each file took when it last ran here, kept between runs (in node_modules, so a
 * fresh clone starts without): a file's size says little of its time (the guarded-routes
 * file is small and takes half a minute).
 */
const DURATIONS = 'node_modules/.cache/thalamus/test-durations.json';

function readDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

function saveDurations(outcomes: Outcome[]): void {
  const all = readDurations();
  for (const o of outcomes) if (o.file.endsWith('.test.ts')) all[o.file] = o.ms;
  try {
    mkdirSync(dirname(DURATIONS), { recursive: true });
    writeFileSync(DURATIONS, `${JSON.stringify(all, null, 1)}\n`);
  } catch { /* a read-only checkout: the next run orders by size */ }
}

/**
 * The longest files first, so that none starts last and runs on alone: by the time each
 * took last time; files never timed here go before them, the biggest first.
 */
function longestFirst(files: string[]): string[] {
  const known = readDurations();
  const ms = (f: string) => known[`test/${f}`];
  const size = (f: string) => statSync(`test/${f}`).size;
  return [...files].sort((a, b) => {
    const [ma, mb] = [ms(a), ms(b)];
    if (ma === undefined || mb === undefined) return (ma === undefined ? 0 : 1) - (mb === undefined ? 0 : 1) || size(b) - size(a) || a.localeCompare(b);
    return mb - ma || a.localeCompare(b);
  });
}

/** Whether a file declares, on its first line, that it must have the machine to itself. */
const alone = (file: string) => /^\/\/ test: alone\b/.test(readFileSync(`test/${file}`, 'utf8'));

/** Connections a test file may hold at once: its servers' pools, its own, a spawned cluster's (17 at most, sampled across a whole run). */
const CONNECTIONS_PER_FILE = 30;

/** How many files the server's max_connections lets run at once (at most JOBS). */
async function jobsFor(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ max_connections: string }>('SHOW max_connections');
    return Math.max(1, Math.min(JOBS, Math.floor((Number(rows[0]!.max_connections) - 10) / CONNECTIONS_PER_FILE)));
  } catch {
    return JOBS;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function phases(jobs: number): Phase[] {
  const system = quick ? [] : filesOf('system');
  return [
    { name: 'unit', files: filesOf('unit'), jobs: 1, together: true },
    { name: 'parallel', files: longestFirst([...filesOf('api'), ...system.filter((f) => !alone(f))]), jobs },
    { name: 'alone', files: system.filter(alone), jobs: 1 },
  ];
}

/** A file stuck for good must not hold CI: the longest (the cluster bed) takes about a minute. */
const FILE_LIMIT_MS = 8 * 60_000;
/** uvu printed its summary: a process that does not exit soon after left something running. */
const EXIT_GRACE_MS = 5_000;

interface Outcome {
  file: string; total: number; passed: number; skipped: number; failed: number; ms: number; note?: string;
  /** Suites skipped for a missing tool, with the line that installs it (test/helpers/tools.ts). */
  skips: string[];
}

/** Ends each file's process group still running (Ctrl-C). */
const running = new Set<() => void>();

/** Runs uvu on `files` (`tier/name`, all of one tier) in one process; its output is printed whole when it ends. */
function runUvu(files: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  const started = Date.now();
  const dir = `test/${files[0]!.split('/')[0]}`;
  const label = files.length === 1 ? `test/${files[0]}` : `${dir} (${files.length} files)`;
  const names = files.map((f) => f.split('/')[1]!);
  const only = `^(${names.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
  return new Promise((resolve) => {
    // Its own process group, so whatever a failed test left running can be ended with it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', dir, only, '-c', 'false'], {
      env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let output = '';
    let note: string | undefined;
    const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    running.add(killGroup);
    const limit = setTimeout(() => { note = `past its ${FILE_LIMIT_MS / 60_000} min limit; its processes were ended`; killGroup(); }, FILE_LIMIT_MS);
    let grace: NodeJS.Timeout | undefined;
    const take = (chunk: Buffer) => {
      output += chunk;
      if (!grace && /Duration:/.test(output)) grace = setTimeout(() => { note = 'did not exit after its summary; its processes were ended'; killGroup(); }, EXIT_GRACE_MS);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code) => {
      clearTimeout(limit);
      clearTimeout(grace);
      killGroup();
      running.delete(killGroup);
      const ms = Date.now() - started;
      const num = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(output)?.[1] ?? 0);
      // uvu's Total counts the tests that ran; skipped ones are counted apart.
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      let failed = total - passed;
      // A crash before uvu's summary (a file that does not import, say) is a failure too.
      if ((code !== 0 || note) && failed === 0) failed = 1;
      process.stdout.write(`\n── ${label} (${(ms / 1000).toFixed(1)} s)\n${output.trimEnd()}\n${note ? `tests: ${label} ${note}\n` : ''}`);
      const skips = [...output.matchAll(/^skipped: (.*)$/gm)].map((m) => m[1]!);
      resolve({ file: label, total, passed, skipped, failed, ms, note, skips });
    });
  });
}

/** Runs the phase's files, `jobs` at a time, in the phase's order. */
async function runPhase(phase: Phase, env: NodeJS.ProcessEnv): Promise<Outcome[]> {
  if (phase.files.length === 0) return [];
  process.stdout.write(`\n== ${phase.name}: ${phase.files.length} file(s)${phase.together ? '' : `, ${phase.jobs} at a time`}\n`);
  if (phase.together) return [await runUvu(phase.files, env)];
  const queue = [...phase.files];
  const outcomes: Outcome[] = [];
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) outcomes.push(await runUvu([f], env));
  };
  await Promise.all(Array.from({ length: Math.min(phase.jobs, phase.files.length) }, worker));
  return outcomes;
}

/** The OpenAPI validation counts every file's process reported (test/helpers/openapi.ts). */
function openapiLine(dir: string): string | undefined {
  let responses = 0;
  let events = 0;
  const seen = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.startsWith('openapi-'))) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { responses: number; events: number; seen: string[] };
    responses += r.responses;
    events += r.events;
    r.seen.forEach((s) => seen.add(s));
  }
  return responses ? `openapi: ${responses} responses validated against openapi.json (${seen.size} distinct method, path and status), and ${events} stream events` : undefined;
}

async function main(): Promise<number> {
  let embedded: EmbeddedDatabase | undefined;
  let dir: string | undefined;
  const reports = mkdtempSync(join(tmpdir(), 'thalamus-reports-'));
  let url = process.env.TEST_DATABASE_URL;
  // The embedded PostgreSQL and the files run in process groups of their own, so Ctrl-C
  // reaches only this process: end them, and remove the folders, before going.
  const onSignal = (signal: NodeJS.Signals) => {
    running.forEach((kill) => kill());
    void (embedded?.stop() ?? Promise.resolve()).catch(() => undefined).finally(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      rmSync(reports, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (!url) {
    dir = mkdtempSync(join(tmpdir(), 'thalamus-test-'));
    chmodSync(dir, 0o755);
    embedded = await startEmbedded(dir);
    url = embedded.url.replace(/\/federation$/, '/postgres');
    process.stdout.write(`tests: embedded PostgreSQL (${dir})\n`);
  } else {
    process.stdout.write(`tests: PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')}\n`);
  }
  const env = { ...process.env, TEST_DATABASE_URL: url, FORCE_COLOR: '0', THALAMUS_TEST_REPORTS: reports };
  const began = Date.now();
  const outcomes: Outcome[] = [];
  const times: string[] = [];
  const jobs = await jobsFor(url);
  for (const phase of phases(jobs)) {
    const start = Date.now();
    const done = await runPhase(phase, env);
    outcomes.push(...done);
    if (done.length) times.push(`${phase.name} ${((Date.now() - start) / 1000).toFixed(0)} s`);
  }
  await embedded?.stop().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  saveDurations(outcomes);
  const openapi = openapiLine(reports);
  rmSync(reports, { recursive: true, force: true });

  const sum = (k: 'passed' | 'failed' | 'skipped') => outcomes.reduce((n, o) => n + o[k], 0);
  const failedFiles = outcomes.filter((o) => o.failed > 0).map((o) => o.file);
  const slowest = [...outcomes].sort((a, b) => b.ms - a.ms).slice(0, 5).map((o) => `${o.file} ${(o.ms / 1000).toFixed(0)} s`);
  process.stdout.write('\n');
  if (openapi) process.stdout.write(`${openapi}\n`);
  process.stdout.write(`tests: ${times.join(', ')}; ${((Date.now() - began) / 1000).toFixed(0)} s in all; slowest: ${slowest.join(', ')}\n`);
  for (const skip of outcomes.flatMap((o) => o.skips)) process.stdout.write(`tests: skipped ${skip}\n`);
  if (failedFiles.length) process.stdout.write(`tests: failed in ${failedFiles.join(', ')}\n`);
  const skipped = sum('skipped');
  process.stdout.write(`\n${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  return sum('failed') === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(1);
});
