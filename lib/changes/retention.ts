// CHANGES_RETENTION_DAYS: change rows older than that are purged hourly (by every
// worker; the DELETE is idempotent), always a prefix of the log, and the purge point is
// kept so that a `since` below it answers 410 instead of silently missing rows.
import type pg from 'pg';
import type { Logger } from '../log.js';
import { schedulePurge } from '../tasks.js';

const FIRST_MS = 7_000;

/** Purges rows older than `days` days; returns how many went. */
export async function purgeChanges(pool: pg.Pool, days: number): Promise<number> {
  if (days < 1) return 0;
  const { rows } = await pool.query<{ n: string }>('SELECT changes_purge($1) AS n', [days]);
  return Number(rows[0]?.n ?? 0);
}

/** Purges soon after start and then hourly; returns the function that stops it. 0 days keeps every row. */
export function startChangesPurging(pool: pg.Pool, days: number, log: Logger): () => void {
  if (days < 1) return () => undefined;
  return schedulePurge(() => purgeChanges(pool, days).then(
    (n) => { if (n) log.info({ removed: n, days }, 'purged old change rows'); },
    (err) => log.warn({ err }, 'change log purge failed; will retry'),
  ), FIRST_MS);
}
