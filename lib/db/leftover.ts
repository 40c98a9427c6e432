// A PostgreSQL found running on our data directory at start-up. Its postmaster.pid names
// it; the owner file (written by whoever started it) tells a server left by a killed
// run (`kill -9` of the primary: PostgreSQL, in its own process group, lives on) from
// one a running Thalamus still uses. The first is stopped cleanly, the second refused.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readPidFile, stopPid } from './postmaster.js';
import { argsOf, parentOf } from './proc.js';

export type Leftover =
  | { kind: 'none' }
  /** postmaster.pid names a process that is gone, or is not this cluster's server. */
  | { kind: 'stale'; pid: number }
  /** Its owner (the process that started it) is still its parent: in use. */
  | { kind: 'owned'; pid: number; owner: number }
  /** Its owner is gone. */
  | { kind: 'orphan'; pid: number };

export function writeOwner(ownerFile: string, pid = process.pid): void {
  writeFileSync(ownerFile, `${pid}\n`, { mode: 0o644 });
}

function readOwner(ownerFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(ownerFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function findLeftover(databaseDir: string, ownerFile: string): Leftover {
  const file = readPidFile(databaseDir);
  if (!file) return { kind: 'none' };
  const args = argsOf(file.pid);
  if (!args || basename(args[0] ?? '') !== 'postgres' || !args.includes(databaseDir)) return { kind: 'stale', pid: file.pid };
  const parent = parentOf(file.pid);
  // A parent that is the owner has not died: a killed process's children are re-parented.
  // Without an owner file (a cluster started by an older version), only a server adopted
  // by init counts as left behind.
  const owner = readOwner(ownerFile);
  const inUse = owner !== undefined ? parent === owner : parent !== 1;
  return inUse && parent !== undefined ? { kind: 'owned', pid: file.pid, owner: parent } : { kind: 'orphan', pid: file.pid };
}

/** Makes the data directory free for a new server, or throws when a live one uses it. */
export async function clearLeftover(dataDir: string, databaseDir: string, ownerFile: string, log: (msg: string) => void): Promise<void> {
  const left = findLeftover(databaseDir, ownerFile);
  switch (left.kind) {
    case 'none': return;
    case 'stale':
      rmSync(join(databaseDir, 'postmaster.pid'), { force: true });
      return;
    case 'owned':
      throw new Error(`${dataDir} is in use: its PostgreSQL (pid ${left.pid}) belongs to process ${left.owner}, which is still running; stop it first, or set another DATA_DIR`);
    case 'orphan':
      log(`stopping the embedded PostgreSQL (pid ${left.pid}) left running by an earlier start that ended without stopping it`);
      await stopPid(left.pid);
  }
}
