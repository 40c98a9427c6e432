// The guard of one round trip (lib/db/run.ts): a request whose credentials this worker
// verified before is answered by one statement that also checks, in the database, that
// the principal still stands as it was verified: the same stored hash, the same roles,
// not deactivated, not locked out. So a password, role, deactivation or lockout change
// applies on the very next request, in every worker and instance, at no extra round trip.
import sql from 'sql-template-tag';
import type { Guard } from '../db/run.js';
import { lockedForSql } from './lockout.js';

/** What the guard compares with the stored person: the state the verification relied on. */
export interface PrincipalState {
  account: string;
  /** The stored hash that was verified. */
  hash: string;
  /** `data->'roles'` as stored, as JSON text ('null' when absent). */
  rolesJson: string;
  /** The address the lockout counts the request under. */
  lockoutAddress: string;
}

export function principalGuard(p: PrincipalState): Guard {
  return {
    ctes: [sql`g AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM people WHERE id = ${p.account}::varchar
        AND data->>'password' = ${p.hash}::text AND COALESCE(data->'roles', 'null'::jsonb) = ${p.rolesJson}::jsonb
        AND (data->'active') IS DISTINCT FROM 'false'::jsonb)
      AND ${lockedForSql(sql`${p.account}::text`, sql`${p.lockoutAddress}::text`)} IS NULL AS ok)`],
    ok: sql`(SELECT ok FROM g)`,
  };
}

