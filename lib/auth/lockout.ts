// Brute-force lockout. Failed logins are rows in PostgreSQL (login_failures), so every
// worker of every instance on the database counts the same failures. The check rides
// on the login lookup (one statement, see authenticate.ts); a failure costs one insert,
// which also appends the failed login's audit row.
import type pg from 'pg';
import { AUDIT_COLUMNS, auditPlaceholders, auditValues, type AuditEntry } from '../audit/entry.js';

export interface LockoutPolicy {
  /** Failures per account within the window before it is locked. */
  accountFailures: number;
  /** Failures per client address within the window before it is locked. */
  addressFailures: number;
  /** Window length in seconds; a lockout lasts until enough failures leave it. */
  windowSeconds: number;
}

/**
 * Failures of one scope and key within the window, counted no further than `limit`
 * (an index range scan of at most `limit` entries). `$w` is the window in seconds.
 */
export function failureCount(scope: 'account' | 'address', key: string, w: string, limit: string): string {
  return `(SELECT count(*) FROM (SELECT 1 FROM login_failures WHERE scope = '${scope}' AND key = ${key}
    AND failed_at > now() - make_interval(secs => ${w}) LIMIT ${limit}) f)::int`;
}

const RECORD = `WITH f AS (INSERT INTO login_failures (scope, key) VALUES ('account', $1), ('address', $2))
  INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (${auditPlaceholders(3)})`;

/** Seconds until the `limit`-th most recent failure leaves the window. */
const RETRY_AFTER = `SELECT ceil(extract(epoch FROM min(failed_at) + make_interval(secs => $3) - now()))::int AS seconds
  FROM (SELECT failed_at FROM login_failures WHERE scope = $1 AND key = $2 AND failed_at > now() - make_interval(secs => $3)
        ORDER BY failed_at DESC LIMIT $4) recent`;

export interface Lockout {
  readonly policy: LockoutPolicy;
  /** Records one failed login and its audit row in one statement. */
  recordFailure(account: string, address: string, audit: AuditEntry): Promise<void>;
  /** Seconds until a login with these account and address counts is allowed again (at least 1). */
  retryAfter(account: string, address: string, accountLocked: boolean, addressLocked: boolean): Promise<number>;
  /** Deletes failures older than the window. */
  purge(): Promise<number>;
}

export function createLockout(pool: pg.Pool, policy: LockoutPolicy): Lockout {
  const wait = async (scope: string, key: string, limit: number) => {
    const { rows } = await pool.query<{ seconds: number | null }>(RETRY_AFTER, [scope, key, policy.windowSeconds, limit]);
    return rows[0]?.seconds ?? 1;
  };
  return {
    policy,
    async recordFailure(account, address, audit) {
      await pool.query(RECORD, [account, address, ...auditValues(audit)]);
    },
    async retryAfter(account, address, accountLocked, addressLocked) {
      const waits = await Promise.all([
        accountLocked ? wait('account', account, policy.accountFailures) : 0,
        addressLocked ? wait('address', address, policy.addressFailures) : 0,
      ]);
      return Math.max(1, ...waits);
    },
    async purge() {
      const { rowCount } = await pool.query(`DELETE FROM login_failures WHERE failed_at < now() - make_interval(secs => $1)`, [policy.windowSeconds]);
      return rowCount ?? 0;
    },
  };
}
