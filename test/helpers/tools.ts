// System tools some tests need (chromium, nginx, openssl, the PostgreSQL server
// binaries, systemd-analyze). On a machine without one, the suites that need it are
// skipped, each test counted as skipped and the suite named with the line that would
// install the tool: `npm test` keeps the README's promise on a fresh machine with only
// Node.js. Under CI (`CI=true`, as .ci/run sets it) a missing tool is a failure instead:
// CI installs them all, so a missing one means the tests did not run.
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';

export interface Tool {
  name: string;
  /** Where it is, or undefined when it is missing. */
  path: string | undefined;
  /** What installs it on Debian (as .ci/run does). */
  install: string;
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, command);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

function firstOf(...paths: (string | undefined)[]): string | undefined {
  return paths.find((p): p is string => p !== undefined && existsSync(p));
}

/** The newest /usr/lib/postgresql/<version>/bin with the server binaries the test bed runs. */
function pgServerBin(): string | undefined {
  if (process.env.PG_BIN) return firstOf(join(process.env.PG_BIN, 'pg_basebackup')) && process.env.PG_BIN;
  if (!existsSync('/usr/lib/postgresql')) return undefined;
  return readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    .map((v) => `/usr/lib/postgresql/${v}/bin`)
    .find((dir) => ['initdb', 'postgres', 'pg_basebackup'].every((b) => existsSync(join(dir, b))));
}

/** Tools to treat as missing although installed (`TEST_WITHOUT=chromium,nginx`): what a machine without them runs. */
const WITHOUT = new Set((process.env.TEST_WITHOUT ?? '').split(',').map((t) => t.trim()).filter(Boolean));

function tool(key: string, name: string, path: string | undefined, install: string): Tool {
  return { name, path: WITHOUT.has(key) ? undefined : path, install };
}

export const TOOLS = {
  chromium: tool('chromium', 'chromium', process.env.CHROMIUM_PATH ? firstOf(process.env.CHROMIUM_PATH) : onPath('chromium'), 'apt-get install chromium, or set CHROMIUM_PATH'),
  nginx: tool('nginx', 'nginx', onPath('nginx') ?? firstOf('/usr/sbin/nginx'), 'apt-get install nginx'),
  openssl: tool('openssl', 'openssl', onPath('openssl'), 'apt-get install openssl'),
  pgServer: tool('pgServer', 'the PostgreSQL server binaries', pgServerBin(), 'apt-get install postgresql-15, or set PG_BIN'),
  systemdAnalyze: tool('systemdAnalyze', 'systemd-analyze', onPath('systemd-analyze'), 'apt-get install systemd'),
};

/** Whether a missing tool fails the suite (CI) rather than skipping it. */
export const STRICT = /^(1|true|yes)$/i.test(process.env.CI ?? '');

type Hook = ((fn: () => unknown) => void) & { each: (fn: () => unknown) => void };
const noHook = Object.assign(() => undefined, { each: () => undefined }) as Hook;

/**
 * A uvu suite that runs when every tool in `needs` is present. Otherwise, outside CI,
 * each of its tests is registered as skipped and its hooks do nothing (the runner names
 * it with the install line); under CI, it holds one failing test naming what is missing.
 */
export function suiteNeeding(name: string, needs: Tool[]): Test {
  const missing = needs.filter((t) => !t.path);
  if (missing.length === 0) return suite(name);
  const what = missing.map((t) => `${t.name} (${t.install})`).join(', ');
  const s = suite(name);
  if (STRICT) {
    s(`needs ${missing.map((t) => t.name).join(', ')}`, () => assert.unreachable(`missing under CI: ${what}`));
    return Object.assign((_title: string, _fn: () => unknown) => undefined, { ...s, before: noHook, after: noHook, skip: s.skip, only: s.skip, run: s.run }) as unknown as Test;
  }
  process.stdout.write(`skipped: ${name}: needs ${what}\n`);
  const skip = (title: string, fn: () => unknown) => s.skip(title, fn as never);
  return Object.assign(skip, { before: noHook, after: noHook, skip, only: skip, run: s.run }) as unknown as Test;
}
