// The project root: the folder holding package.json, found from this module, so that
// etc/, sql/ and server/public are found from src (tsx) and from dist/ alike. A leaf:
// it imports nothing of lib/, so every layer may use it (lib/db/migrate.ts finds sql/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) return dir;
  }
}

/** The project root: the folder holding package.json. */
export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
