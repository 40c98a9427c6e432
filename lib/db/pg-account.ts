// Who the embedded PostgreSQL runs as. PostgreSQL refuses to run as root, so a root
// start runs it as the system user `postgres` (created when missing); anyone else runs
// it as themself. Paths it needs are checked as that user, since a checkout under a
// private home folder (/root is 0700) is out of its reach.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';

/** The uid and gid to run PostgreSQL as; undefined: as the current user. */
export interface PgAccount { uid: number; gid: number; name: string }

const NAME = 'postgres';

function idOf(flag: '-u' | '-g'): number | undefined {
  const r = spawnSync('id', [flag, NAME], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** A system account with no home and no shell, in a group of its own name. */
function createAccount(): void {
  const hasGroup = spawnSync('getent', ['group', NAME], { stdio: 'ignore' }).status === 0;
  const r = spawnSync('useradd', ['--system', hasGroup ? '--gid' : '--user-group', ...(hasGroup ? [NAME] : []),
    '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', NAME], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`PostgreSQL cannot run as root and there is no user "${NAME}"; creating it failed: ${(r.stderr || r.error?.message || '').trim()}`);
  }
}

/** The account for PostgreSQL when we are root (creating it if needed), else undefined. */
export function pgAccount(): PgAccount | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (idOf('-u') === undefined) createAccount();
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid === undefined || gid === undefined) throw new Error(`cannot find the uid and gid of user "${NAME}"`);
  return { uid, gid, name: NAME };
}

/**
 * Whether `account` can reach `path` (search or execute it, with every folder above it
 * traversable), asked of the kernel by running test(1) as that account the way
 * PostgreSQL will be started (uid and gid, no supplementary groups), so ACLs count. A path that does not exist yet is judged by its nearest
 * existing ancestor, where it would be created.
 */
export function canReach(path: string, account: PgAccount | undefined): boolean {
  if (!account) return true;
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const r = spawnSync('test', ['-x', p], { uid: account.uid, gid: account.gid, stdio: 'ignore' });
  return r.status === 0;
}
