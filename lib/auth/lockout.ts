// Brute-force lockout. Failed logins are rows in PostgreSQL (login_failures), so every
// worker of every instance on the database counts the same failures, in three scopes:
// the pair (account, client address), the account from every address (a distributed
// attack), and the address over every account. Before a password is verified the
// attempt is reserved atomically (sql/012_lockout_pairs.sql, login_reserve), so no
// burst of concurrent logins can verify more passwords than the limits allow; a
// successful verification releases its reservation, a failed one keeps it.
import { isIPv6 } from 'node:net';
import type pg from 'pg';
import { AUDIT_COLUMNS, auditPlaceholders, auditValues, type AuditEntry } from '../audit/entry.js';

export interface LockoutPolicy {
  /** Failures of one account from one address within the window before that pair is locked. */
  pairFailures: number;
  /** Failures of one account from all addresses within the window before it is locked everywhere. */
  accountFailures: number;
  /** Failures from one address over all accounts within the window before the address is locked. */
  addressFailures: number;
  /** Window length in seconds; a lockout lasts until enough failures leave it. */
  windowSeconds: number;
}

/** The counts the login lookup reads, one per scope, each capped at its limit. */
export interface FailureCounts { pair: number; account: number; address: number }

export type Reservation = { attempt: string } | { retryAfter: number };

export interface Lockout {
  readonly policy: LockoutPolicy;
  /** Whether these counts (from the login lookup) lock the request out. */
  locked(counts: FailureCounts): boolean;
  /** Seconds until a request with these counts may try again (at least 1). */
  retryAfter(account: string, address: string, counts: FailureCounts): Promise<number>;
  /** Reserves one verification, or says how long to wait. */
  reserve(account: string, address: string): Promise<Reservation>;
  /** A reserved attempt succeeded: it no longer counts as a failure. */
  release(attempt: string): Promise<void>;
  /** Appends the audit row of a failed login (its failure rows are the reservation). */
  audit(entry: AuditEntry): Promise<void>;
  /** Deletes failures older than the window. */
  purge(): Promise<number>;
}

/** The address a lockout counts: an IPv6 client by its /64, which one subscriber holds whole. */
export function lockoutAddress(address: string): string {
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** The pair's key, as login_reserve() writes it. */
export const pairKey = (account: string, address: string) => `${account} ${address}`;

/**
 * SQL for the three counts of the login lookup over `$account`, `$address` and the
 * window and limits given as placeholders: index range scans of at most a limit each.
 */
export function failureCountsSql(account: string, address: string, window: string, limits: [string, string, string]): string {
  const count = (scope: string, key: string, cap: string) => `(SELECT count(*) FROM (SELECT 1 FROM login_failures
    WHERE scope = '${scope}' AND key = ${key} AND failed_at > now() - make_interval(secs => ${window}) LIMIT ${cap}) f)::int`;
  return `${count('pair', `${account} || ' ' || ${address}`, limits[0])} AS pair_failures,
    ${count('account', account, limits[1])} AS account_failures,
    ${count('address', address, limits[2])} AS address_failures`;
}

const AUDIT = `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (${auditPlaceholders(1)})`;

export function createLockout(pool: pg.Pool, policy: LockoutPolicy): Lockout {
  const limits = [policy.pairFailures, policy.accountFailures, policy.addressFailures] as const;
  return {
    policy,
    locked: (c) => c.pair >= policy.pairFailures || c.account >= policy.accountFailures || c.address >= policy.addressFailures,
    async retryAfter(account, address, c) {
      const scopes: Array<[string, string, number, boolean]> = [
        ['pair', pairKey(account, address), policy.pairFailures, c.pair >= policy.pairFailures],
        ['account', account, policy.accountFailures, c.account >= policy.accountFailures],
        ['address', address, policy.addressFailures, c.address >= policy.addressFailures],
      ];
      const waits = await Promise.all(scopes.filter((s) => s[3]).map(async ([scope, key, limit]) => {
        const { rows } = await pool.query<{ s: number }>('SELECT login_retry_after($1, $2, $3, $4) AS s', [scope, key, policy.windowSeconds, limit]);
        return rows[0]?.s ?? 1;
      }));
      return Math.max(1, ...waits);
    },
    async reserve(account, address) {
      const { rows } = await pool.query<{ attempt: string | null; retry_after: number }>(
        'SELECT attempt, retry_after FROM login_reserve($1, $2, $3, $4, $5, $6)', [account, address, policy.windowSeconds, ...limits]);
      const row = rows[0]!;
      return row.attempt === null ? { retryAfter: Math.max(1, row.retry_after) } : { attempt: row.attempt };
    },
    async release(attempt) {
      await pool.query('DELETE FROM login_failures WHERE attempt = $1', [attempt]);
    },
    async audit(entry) {
      await pool.query(AUDIT, auditValues(entry));
    },
    async purge() {
      const { rowCount } = await pool.query(`DELETE FROM login_failures WHERE failed_at < now() - make_interval(secs => $1)`, [policy.windowSeconds]);
      return rowCount ?? 0;
    },
  };
}
