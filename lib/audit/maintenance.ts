// Purges what only needs keeping for a while: audit rows past AUDIT_RETENTION_DAYS
// (through audit_purge(), the one way rows leave the audit table) and, with the same
// timer, whatever else is given (the failed logins past the lockout window). Every
// worker runs it; the DELETEs are idempotent.
import type pg from 'pg';
import type { Logger } from '../log.js';
import { schedulePurge } from '../tasks.js';

/** Deletes what is past its time; returns how many rows. */
export type Purge = () => Promise<number>;

export async function purgeOnce(pool: pg.Pool, purgeFailures: Purge, retentionDays: number): Promise<{ audit: number; failures: number }> {
  const failures = await purgeFailures();
  let audit = 0;
  if (retentionDays > 0) {
    const { rows } = await pool.query<{ n: string }>('SELECT audit_purge($1) AS n', [retentionDays]);
    audit = Number(rows[0]?.n ?? 0);
  }
  return { audit, failures };
}

/** Purges 5 s after start and then hourly (lib/tasks.ts); returns the function that stops it. */
export function startPurging(pool: pg.Pool, purgeFailures: Purge, retentionDays: number, log: Logger): () => void {
  return schedulePurge(() => purgeOnce(pool, purgeFailures, retentionDays).then(
    (n) => { if (n.audit || n.failures) log.info(n, 'purged old audit rows and failed logins'); },
    (err) => log.warn({ err }, 'purge failed; will retry'),
  ), 5_000);
}
