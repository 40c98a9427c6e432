// The guard of one round trip (lib/db/run.ts): a request whose credentials this worker
// verified before is answered by one statement that also checks, in the database, that
// the principal still stands as it was verified: the same stored hash, the same roles,
// not deactivated, not locked out. So a password, role, deactivation or lockout change
// applies on the very next request, in every worker and instance, at no extra round trip.
import sql, { type Sql } from 'sql-template-tag';
import type { Guard } from '../db/run.js';
import { lockedForSql } from './lockout.js';
import type { Verified } from './verified.js';

/** The guard of a statement run for `v`: it still stands as it was verified. */
export function principalGuard(v: Verified): Guard {
  return {
    ctes: [sql`g AS MATERIALIZED (SELECT ${standsSql(sql`${v.principal.id}::text`, sql`${v.hash}::text`, sql`${v.rolesJson}::jsonb`, sql`${v.lockoutAddress}::text`)} AS ok)`],
    ok: sql`(SELECT ok FROM g)`,
  };
}

/**
 * The guard's condition over SQL expressions (text, text, jsonb, text): parameters for one
 * principal, or the columns of many checked in one statement (standing.ts).
 */
export function standsSql(account: Sql, hash: Sql, rolesJson: Sql, lockoutAddress: Sql): Sql {
  return sql`(EXISTS (SELECT 1 FROM people WHERE id = (${account})::varchar
        AND data->>'password' = ${hash} AND COALESCE(data->'roles', 'null'::jsonb) = ${rolesJson}
        AND (data->'active') IS DISTINCT FROM 'false'::jsonb)
      AND ${lockedForSql(account, lockoutAddress)} IS NULL)`;
}

