// Administrators who still have a password of the demo federation. Those passwords are
// public (upstream documents them), so such an account is a door anyone can open, with
// whatever database it is in. The primary looks once the database is ready, off the
// critical path (a bcrypt cost-12 verification takes about 250 ms), logs each account it
// finds as an error, and /readyz reports them (readiness.ts). While any is found it looks
// again when /readyz is asked, at most every RECHECK_MS, so a changed password clears the
// report without a restart; an unchanged stored hash is not verified twice.
import type { Acl } from '../lib/auth/acl.js';
import type { Logger } from '../lib/log.js';
import { verifyPassword } from '../lib/auth/passwords.js';
import { createPool, closePool } from '../lib/db/pool.js';

/** The passwords of the demo federation (sql/demo; upstream's documentation). */
export const DEMO_PASSWORDS: readonly string[] = ['freedom', 'gnusolidario'];

/** The shortest time between two looks while an account is found. */
export const RECHECK_MS = 5000;

/** Roles that administer accounts: they list the ACL name `roles` for some method (DESIGN §3). */
export function adminRoles(acl: Acl): string[] {
  return [...acl].filter(([, p]) => Object.values(p.methods).some((names) => names.has('roles'))).map(([role]) => role);
}

/** Active accounts holding one of the roles $1, with a password. */
const ADMINS = `SELECT id, data->>'password' AS hash FROM people
  WHERE jsonb_typeof(data->'roles') = 'array' AND data->'roles' ?| $1::text[]
    AND data->>'password' IS NOT NULL AND (data->'active') IS DISTINCT FROM 'false'::jsonb
  ORDER BY id`;

export const demoPasswordWarning = (id: string) => `administrator ${id} still has a password of the demo federation: change it (thalamus user passwd ${id})`;

export interface DemoPasswords {
  /** One warning per account found; undefined until a look succeeded. */
  warnings(): string[] | undefined;
  /** Starts a look in the background when none succeeded yet or one found an account, and the last is RECHECK_MS old. */
  refresh(): void;
  /** Waits for a look in progress (it holds a connection). */
  close(): Promise<void>;
}

export function watchDemoPasswords(url: string, roles: () => string[], log: Logger): DemoPasswords {
  let found: string[] | undefined;
  let lookedAt = 0;
  let looking: Promise<void> | undefined;
  let verdicts = new Map<string, boolean>();

  async function isDemo(hash: string): Promise<boolean> {
    for (const password of DEMO_PASSWORDS) if (await verifyPassword(password, hash)) return true;
    return false;
  }

  async function look(): Promise<void> {
    const pool = createPool({ url, size: 1, applicationName: 'thalamus-check' });
    try {
      const { rows } = await pool.query<{ id: string; hash: string }>(ADMINS, [roles()]);
      const next = new Map<string, boolean>();
      const ids: string[] = [];
      for (const { id, hash } of rows) {
        const demo = next.get(hash) ?? verdicts.get(hash) ?? (await isDemo(hash));
        next.set(hash, demo);
        if (demo) ids.push(id);
      }
      verdicts = next;
      const before = new Set(found ?? []);
      for (const id of ids) if (!before.has(id)) log.error(demoPasswordWarning(id));
      if (found?.length && !ids.length) log.info('no administrator has a password of the demo federation any more');
      found = ids;
    } catch (err) {
      log.warn(`could not check the administrators' passwords: ${(err as Error).message}`);
    } finally {
      lookedAt = Date.now();
      await closePool(pool).catch(() => undefined);
    }
  }

  function start(): void {
    looking = look().finally(() => { looking = undefined; });
  }

  start();
  return {
    warnings: () => found?.map(demoPasswordWarning),
    refresh() {
      if (looking || (found && !found.length) || Date.now() - lookedAt < RECHECK_MS) return;
      start();
    },
    close: async () => { await looking; },
  };
}
