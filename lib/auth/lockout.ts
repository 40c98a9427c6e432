// Brute-force lockout. Failed logins are rows in PostgreSQL (login_failures), so every
// worker of every instance on the database counts the same failures, in three scopes:
// the pair (account, client address), the account from every address (a distributed
// attack), and the address over every account. Before a password is verified the
// attempt is reserved atomically (sql/012_lockout_pairs.sql, login_reserve), so no
// burst of concurrent logins can verify more passwords than the limits allow; a
// successful verification releases its reservation, a failed one is confirmed and,
// at a limit, leaves a lock row (login_locks) that every later request checks.
// A successful verification also marks its address as known for the account
// (login_known, sql/023): the account's lock from every address does not apply there,
// so a node keeps working when forged or distributed failures lock its account.
import { isIPv6 } from 'node:net';
import type pg from 'pg';
import sql, { type Sql } from 'sql-template-tag';
import { auditInsert, type AuditEntry } from '../audit/entry.js';

export interface LockoutPolicy {
  /** Failures of one account from one address within the window before that pair is locked. */
  pairFailures: number;
  /** Failures of one account from all addresses within the window before it is locked everywhere. */
  accountFailures: number;
  /** Failures from one address over all accounts within the window before the address is locked. */
  addressFailures: number;
  /** Window length in seconds; a lockout lasts until enough failures leave it. */
  windowSeconds: number;
  /** Leading bits by which an IPv6 client is counted (LOCKOUT_IPV6_PREFIX). */
  ipv6Prefix: number;
  /** Days an address stays known for an account after a login there (0: none is). */
  knownAddressDays: number;
}

export type Reservation = { attempt: string } | { retryAfter: number };

export interface Lockout {
  readonly policy: LockoutPolicy;
  /** Reserves one verification, or says how long to wait. */
  reserve(account: string, address: string): Promise<Reservation>;
  /** A reserved attempt of `account` from `address` succeeded: it no longer counts as a failure, and the address is known for the account. */
  release(attempt: string, account: string, address: string): Promise<void>;
  /** A reserved attempt failed: confirms it (locking scopes at their limit) and appends its audit row. */
  fail(attempt: string, account: string, address: string, audit: AuditEntry): Promise<void>;
  /** Deletes failures older than the window and locks that ended. */
  purge(): Promise<number>;
}

/**
 * The address a lockout counts: an IPv6 client by its leading `prefix` bits (a /56 or a
 * /64, which one subscriber holds whole), as `2001:db8:aa:bb00::/56`.
 */
export function lockoutAddress(address: string, prefix: number): string {
  // An IPv6 address has a colon; isIPv6's long expression need not run on every IPv4 one.
  if (!address.includes(':') || !isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  const kept = groups.slice(0, Math.ceil(prefix / 16)).map((g, i) => {
    const bits = Math.min(16, prefix - 16 * i);
    return ((parseInt(g, 16) || 0) & (0xffff << (16 - bits))).toString(16);
  });
  return `${kept.join(':')}::/${prefix}`;
}

/**
 * Seconds the request of `account` from `address` must still wait (NULL when none of
 * its three scopes is locked): primary-key probes, cheap enough for every request. The
 * account's lock does not apply at an address known for it (login_known).
 */
export function lockedForSql(account: Sql, address: Sql): Sql {
  // max() of no rows is NULL (GREATEST would turn that into a number).
  return sql`(SELECT ceil(extract(epoch FROM max(until) - now()))::int FROM login_locks
    WHERE ((scope, key) IN (('pair', login_pair_key(${account}, ${address})), ('address', ${address}))
      OR (scope = 'account' AND key = ${account} AND NOT EXISTS (SELECT 1 FROM login_known k
        WHERE k.account = ${account} AND k.address = ${address} AND k.until > now())))
    AND until > now())`;
}

export function createLockout(pool: pg.Pool, policy: LockoutPolicy): Lockout {
  const limits = [policy.pairFailures, policy.accountFailures, policy.addressFailures] as const;
  return {
    policy,
    async reserve(account, address) {
      const { rows } = await pool.query<{ attempt: string | null; retry_after: number }>(
        'SELECT attempt, retry_after FROM login_reserve($1, $2, $3, $4, $5, $6)', [account, address, policy.windowSeconds, ...limits]);
      const row = rows[0]!;
      return row.attempt === null ? { retryAfter: Math.max(1, row.retry_after) } : { attempt: row.attempt };
    },
    async release(attempt, account, address) {
      if (policy.knownAddressDays === 0) {
        await pool.query('DELETE FROM login_failures WHERE attempt = $1', [attempt]);
        return;
      }
      await pool.query(`WITH released AS (DELETE FROM login_failures WHERE attempt = $1)
        INSERT INTO login_known (account, address, until) VALUES ($2, $3, now() + make_interval(days => $4))
        ON CONFLICT (account, address) DO UPDATE SET until = EXCLUDED.until`, [attempt, account, address, policy.knownAddressDays]);
    },
    async fail(attempt, account, address, audit) {
      const { text, values } = sql`WITH f AS (SELECT login_fail(${attempt}::bigint, ${account}::text, ${address}::text, ${policy.windowSeconds}::int,
          ${limits[0]}::int, ${limits[1]}::int, ${limits[2]}::int))
        ${auditInsert(audit, sql`EXISTS (SELECT 1 FROM f)`)}`;
      await pool.query(text, values);
    },
    async purge() {
      const { rowCount } = await pool.query(`DELETE FROM login_failures WHERE failed_at < now() - make_interval(secs => $1)`, [policy.windowSeconds]);
      await pool.query('DELETE FROM login_locks WHERE until < now()');
      await pool.query('DELETE FROM login_known WHERE until < now()');
      return rowCount ?? 0;
    },
  };
}
