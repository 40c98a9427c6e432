// Who is asking: Basic credentials checked against people.data.password. The person's
// row is read on every request, so a password change, a role change or a deactivation
// takes effect on the very next request in every worker and every instance; only the
// hash verification itself is cached.
import type pg from 'pg';
import { parseBasic } from './basic.js';
import { dummyVerify, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import type { CredentialCache } from './cache.js';
import { errors } from '../http/errors.js';

export interface Principal {
  /** Federation account id, upper case. */
  id: string;
  roles: string[];
}

export interface AuthStats { verifications: number; cacheHits: number; failures: number }

export interface Authenticator {
  /** Resolves the principal for an Authorization header, or throws 401. */
  authenticate(header: string | undefined): Promise<Principal>;
  readonly stats: AuthStats;
}

interface LoginRow { hash: string | null; roles: unknown; active: unknown }

const LOOKUP = `SELECT data->>'password' AS hash, data->'roles' AS roles, data->'active' AS active
  FROM people WHERE id = $1`;
/** Compare-and-set: only replaces the hash that was verified, so concurrent logins race safely. */
const REHASH = `UPDATE people SET data = jsonb_set(data, '{password}', to_jsonb($3::text))
  WHERE id = $1 AND data->>'password' = $2`;

export function rolesOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string') : [];
}

export function createAuthenticator(pool: pg.Pool, cache: CredentialCache): Authenticator {
  const stats: AuthStats = { verifications: 0, cacheHits: 0, failures: 0 };
  return {
    stats,
    async authenticate(header) {
      const creds = parseBasic(header);
      if (!creds) throw errors.unauthenticated();
      const { rows } = await pool.query<LoginRow>(LOOKUP, [creds.account]);
      const row = rows[0];
      const hash = row?.hash;
      if (!row || !hash || row.active === false) {
        stats.failures++;
        await dummyVerify(creds.password);
        throw errors.unauthenticated();
      }
      const principal = { id: creds.account, roles: rolesOf(row.roles) };
      if (cache.has(creds.account, creds.password, hash)) {
        stats.cacheHits++;
        return principal;
      }
      const current = await cache.verifyOnce(creds.account, creds.password, hash, async () => {
        stats.verifications++;
        if (!(await verifyPassword(creds.password, hash))) return null;
        if (!needsRehash(hash)) return hash;
        const upgraded = await hashPassword(creds.password);
        const { rowCount } = await pool.query(REHASH, [creds.account, hash, upgraded]);
        return rowCount ? upgraded : hash;
      });
      if (current === null) {
        stats.failures++;
        throw errors.unauthenticated();
      }
      cache.add(creds.account, creds.password, current);
      return principal;
    },
  };
}
