// `npm test`: runs the uvu suite against a real PostgreSQL and prints one closing line
// `N passed, N failed`. TEST_DATABASE_URL names a server (its maintenance database);
// without it an embedded PostgreSQL is started in a temporary folder and removed after.
// Size the thread pool as the server does (the test child inherits the variable).
import '../server/threadpool.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded, type EmbeddedDatabase } from '../lib/db/embedded.js';

const pattern = process.argv[2] ?? '\\.test\\.ts$';
const SUITE_LIMIT_MS = 25 * 60_000;

async function main(): Promise<number> {
  let embedded: EmbeddedDatabase | undefined;
  let dir: string | undefined;
  let url = process.env.TEST_DATABASE_URL;
  let killSuite: () => void = () => undefined;
  // The embedded PostgreSQL and the suite run in process groups of their own, so Ctrl-C
  // reaches only this process: end them, and remove the folder, before going.
  const onSignal = (signal: NodeJS.Signals) => {
    killSuite();
    void (embedded?.stop() ?? Promise.resolve()).catch(() => undefined).finally(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
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
  let output = '';
  let hung = false;
  const code = await new Promise<number>((resolve) => {
    // Its own process group, so whatever a failed test left running can be ended with it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern, '-c', 'false'], {
      env: { ...process.env, TEST_DATABASE_URL: url, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    const killGroup = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
    killSuite = killGroup;
    let watchdog: NodeJS.Timeout | undefined;
    // The whole suite takes a few minutes; a test stuck for good must not hold CI.
    const limit = setTimeout(() => { hung = true; killGroup(); }, SUITE_LIMIT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
      process.stdout.write(chunk);
      // uvu has printed its summary: a suite that does not exit soon after has left
      // something running (a hook that failed before its cleanup); end it, count it.
      if (!watchdog && /Duration:/.test(output)) {
        watchdog = setTimeout(() => { hung = true; killGroup(); }, 30_000);
      }
    });
    child.on('close', (c) => { clearTimeout(watchdog); clearTimeout(limit); killGroup(); resolve(c ?? 1); });
  });
  if (hung) process.stdout.write('tests: the suite hung (past its time limit, or not exiting after its summary); its processes were ended\n');
  await embedded?.stop().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(output)?.[1] ?? 0);
  const total = num('Total');
  const passed = num('Passed');
  const skipped = num('Skipped');
  let failed = total - passed - skipped;
  // A crash before uvu's summary (a file that does not import, say) is a failure too.
  if ((code !== 0 || hung) && failed === 0) failed = 1;
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  return failed === 0 && code === 0 && !hung ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(1);
});
