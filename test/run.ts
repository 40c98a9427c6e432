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

async function main(): Promise<number> {
  let embedded: EmbeddedDatabase | undefined;
  let dir: string | undefined;
  let url = process.env.TEST_DATABASE_URL;
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
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern, '-c', 'false'], {
      env: { ...process.env, TEST_DATABASE_URL: url, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (chunk: Buffer) => { output += chunk; process.stdout.write(chunk); });
    child.on('close', (c) => resolve(c ?? 1));
  });
  await embedded?.stop().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(output)?.[1] ?? 0);
  const total = num('Total');
  const passed = num('Passed');
  const skipped = num('Skipped');
  let failed = total - passed - skipped;
  // A crash before uvu's summary (a file that does not import, say) is a failure too.
  if (code !== 0 && failed === 0) failed = 1;
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  return failed === 0 && code === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exit(1);
});
