// Thalamus's own folder for the embedded PostgreSQL when it runs as root: the `postgres`
// user cannot reach a checkout under a private home folder (/root is 0700), so its
// binaries, and its data unless DATA_DIR is set, go where it can. Not /var/lib/thalamus:
// that is the systemd unit's DATA_DIR, owned by the service's own user.
import { mkdirSync, lstatSync, chmodSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { canReach, type PgAccount } from './pg-account.js';

const CANDIDATES = () => ['/var/lib/thalamus-embedded', join(tmpdir(), 'thalamus-embedded')];

/**
 * The first candidate that is (or can be made) a folder of root's, writable by root only
 * and traversable by `account`. The system temp folder is the fallback for a read-only
 * /var; a folder there that someone else made is refused, not used.
 */
export function embeddedHome(account: PgAccount): string {
  const reasons: string[] = [];
  for (const dir of CANDIDATES()) {
    try {
      try {
        mkdirSync(dir, { mode: 0o755 });
        chmodSync(dir, 0o755); // whatever the umask
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) throw new Error('exists but is not a folder of root writable by root only');
      if (!canReach(dir, account)) throw new Error(`user ${account.name} cannot reach it`);
      return dir;
    } catch (err) {
      reasons.push(`${dir}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no folder for the embedded PostgreSQL that user ${account.name} can reach (${reasons.join('; ')}); set DATA_DIR and DATABASE_URL`);
}

/**
 * Where the data of the checkout at `checkout` lives when its default DATA_DIR is out of
 * the account's reach: one folder per checkout (two clones must not share a cluster),
 * named so a person can tell which.
 */
export function relocatedDataDir(home: string, checkout: string): string {
  const id = createHash('sha256').update(checkout).digest('hex').slice(0, 8);
  return join(home, `data-${basename(checkout)}-${id}`);
}
