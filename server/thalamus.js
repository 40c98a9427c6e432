#!/usr/bin/env node
// The `thalamus` command (package.json "bin"). It runs the compiled CLI in dist/ when
// that is at least as new as every TypeScript source, and the sources through tsx
// otherwise: so `npx thalamus` works on a fresh clone right after `npm install` (no
// build step, no install script), a developer never runs a stale build, and a built
// production install (`npm ci && npm run build`) starts without tsx's loader. Workers
// that `thalamus serve` forks run this file again and decide the same way.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const compiled = join(root, 'dist', 'server', 'cli', 'main.js');
const SOURCE_DIRS = ['lib', 'server'];

/** Modification time of the newest .ts file under the source folders (0 when there are none). */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(join(root, dir))) walk(join(root, dir));
  return newest;
}

async function tsxAvailable() {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return true;
  } catch {
    return false;
  }
}

const built = existsSync(compiled);
if (built && statSync(compiled).mtimeMs >= newestSource()) {
  await import(pathToFileURL(compiled).href);
} else if (await tsxAvailable()) {
  await import(pathToFileURL(join(root, 'server', 'cli', 'main.ts')).href);
} else if (built) {
  process.stderr.write('thalamus: dist/ is older than the sources and tsx is not installed; running dist/ (npm run build updates it)\n');
  await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write('thalamus: no build in dist/ and tsx is not installed: run `npm run build` (or `npm install` for tsx)\n');
  process.exit(1);
}
