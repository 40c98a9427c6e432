// The full path of authentication (admit.ts decides when it runs): Basic credentials,
// parsed once by admit, checked against people.data.password. The person's row is read,
// so a password change, a role change or a deactivation takes effect on the very next
// request in every worker and every instance; only the hash verification is cached. The same statement reads whether the pair
// (account, address), the account or the address is locked out (lockout.ts).
// A verification runs only after its attempt was reserved, and every failure, whatever
// the account, takes the time of the slowest kind of hash (failure-time.ts).
import type pg from 'pg';
import type { Logger } from '../log.js';
import type { Credentials } from './basic.js';
import { hashKind, type Passwords } from './passwords.js';
import type { CredentialCache } from './cache.js';
import sql from 'sql-template-tag';
import { lockedForSql, type Lockout } from './lockout.js';
import type { Verified } from './verified.js';
import { run } from '../db/run.js';
import type { FailureTimer } from './failure-time.js';
import type { AuditSource } from '../audit/entry.js';
import { errors } from '../http/errors.js';

export interface AuthStats { verifications: number; cacheHits: number; failures: number; lockouts: number }

/** One login: the credentials parsed once, their cache key, where they come from, what the audit trail records. */
export interface Login {
  creds: Credentials;
  /** The credential cache's key of `creds` (cache.ts keyOf). */
  key: string;
  /** The client's address. */
  address: string;
  /** The address the lockout counts it under (lockout.ts lockoutAddress). */
  lockoutAddress: string;
  route: string;
  requestId: string;
}

export interface Authenticator {
  /** Resolves the verified principal, kept in the credential cache, or throws 401 (429 while locked out). */
  authenticate(login: Login): Promise<Verified>;
  readonly stats: AuthStats;
}

export interface AuthenticatorOptions {
  pool: pg.Pool;
  cache: CredentialCache;
  passwords: Passwords;
  lockout: Lockout;
  timer: FailureTimer;
  /** PERSON_ID_PATTERN: an account id outside it never logs in. */
  personIdPattern: RegExp;
  log: Logger;
}

interface LoginRow { found: boolean; hash: string | null; roles: unknown; roles_json: string; active: unknown; locked_for: number | null }

/** The person's login fields (if any) and whether the request is locked out: one round trip. */
const lookup = (account: string, address: string) => sql`SELECT p.id IS NOT NULL AS found, p.data->>'password' AS hash,
    p.data->'roles' AS roles, COALESCE(p.data->'roles', 'null'::jsonb)::text AS roles_json, p.data->'active' AS active,
    ${lockedForSql(sql`${account}::text`, sql`${address}::text`)} AS locked_for
  FROM (SELECT 1) one LEFT JOIN people p ON p.id = ${account}::varchar`;
/** Compare-and-set: only replaces the hash that was verified, so concurrent logins race safely. */
const rehash = (account: string, verified: string, upgraded: string) => sql`UPDATE people
  SET data = jsonb_set(data, '{password}', to_jsonb(${upgraded}::text)) WHERE id = ${account}::varchar AND data->>'password' = ${verified}::text
  RETURNING id`;

export function rolesOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string') : [];
}

/** What a shared verification concluded; a failed one names its reserved attempt. */
type Verdict = { ok: true; hash: string } | { ok: false; attempt: string } | { ok: false; retryAfter: number };

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const { pool, cache, passwords, lockout, timer, log } = opts;
  const stats: AuthStats = { verifications: 0, cacheHits: 0, failures: 0, lockouts: 0 };

  const lockedOut = (seconds: number) => {
    stats.lockouts++;
    return errors.lockedOut(seconds);
  };

  /** Runs `verify` for one reserved attempt; the reservation stays only if it fails. */
  async function reservedVerification(creds: Credentials, key: string, hash: string): Promise<Verdict> {
    const r = await lockout.reserve(creds.account, key);
    if ('retryAfter' in r) return { ok: false, retryAfter: r.retryAfter };
    stats.verifications++;
    const ok = await passwords.verify(creds.password, hash, (ms) => timer.record(hashKind(hash), ms));
    if (!ok) return { ok: false, attempt: r.attempt };
    await lockout.release(r.attempt, creds.account, key);
    if (!passwords.needsRehash(hash)) return { ok: true, hash };
    const upgraded = await passwords.hash(creds.password);
    const changed = await run(pool, rehash(creds.account, hash, upgraded));
    return { ok: true, hash: changed.length ? upgraded : hash };
  }

  return {
    stats,
    async authenticate(from) {
      const { creds, lockoutAddress: key } = from;
      // Prepared: planned once per connection.
      const row = (await run<LoginRow>(pool, lookup(creds.account, key), { prepare: true }))[0]!;
      // Locked out: no verification at all, the same answer whether the password is right or not.
      if (row.locked_for !== null) throw lockedOut(Math.max(1, row.locked_for));

      const hash = row.hash;
      const usable = row.found && !!hash && row.active !== false && opts.personIdPattern.test(creds.typed);
      const verified = (stored: string): Verified => ({ principal: { id: creds.account, roles: rolesOf(row.roles) }, hash: stored, rolesJson: row.roles_json, lockoutAddress: key });
      if (usable && cache.get(from.key)?.hash === hash) {
        stats.cacheHits++;
        const v = verified(hash);
        cache.set(from.key, v);
        return v;
      }

      const started = performance.now();
      const failed = async (attempt: string) => {
        stats.failures++;
        await timer.pad(started);
        const source: AuditSource = { actor: creds.account, roles: [], route: from.route, client: from.address, requestId: from.requestId };
        await lockout.fail(attempt, creds.account, key, { ...source, action: 'login_failed', recordId: null, person: row.found ? creds.account : null, status: 401 });
        return errors.unauthenticated();
      };
      const reserve = async () => {
        const r = await lockout.reserve(creds.account, key);
        if ('retryAfter' in r) throw lockedOut(r.retryAfter);
        return r.attempt;
      };

      if (!usable || !hash || passwords.storedHashProblem(hash)) {
        if (usable && hash) log.warn({ account: creds.account, problem: passwords.storedHashProblem(hash) }, 'stored password hash exceeds the configured bounds; login refused without running it');
        const attempt = await reserve();
        await passwords.dummyVerify(creds.password, timer.record);
        throw await failed(attempt);
      }

      const { value, leader } = await cache.verifyOnce(from.key, hash, () => reservedVerification(creds, key, hash));
      if (value.ok) {
        const v = verified(value.hash);
        cache.set(from.key, v);
        return v;
      }
      if ('retryAfter' in value) throw lockedOut(value.retryAfter);
      // The same wrong password as a verification in flight: it still counts as an attempt.
      throw await failed(leader ? value.attempt : await reserve());
    },
  };
}
