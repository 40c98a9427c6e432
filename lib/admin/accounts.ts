// Account administration from the command line (`thalamus user ...`): each change and
// its audit row are one statement, as for the API's writes, with the operator as the
// actor. The audit row's status is what the API would answer for the same change.
import sql, { type Sql } from 'sql-template-tag';
import type pg from 'pg';
import { auditInsert, withAudit, type AuditEvent, type AuditSource } from '../audit/entry.js';

const event = (action: AuditEvent['action'], id: string, status: number, changed?: string[]): AuditEvent =>
  ({ action, recordId: id, person: id, status, changed });

/** The rows an audited write changed (withAudit answers one row with a NULL id when none). */
async function run(pool: pg.Pool, statement: Sql): Promise<number> {
  const { rows } = await pool.query<{ id: string | null }>(statement.text, statement.values);
  return rows.filter((r) => r.id !== null).length;
}

/**
 * Creates a person who can log in: `roles`, active, and the password hash (or none).
 * Returns false when the id is taken (nothing changes then).
 */
export async function addAccount(pool: pg.Pool, source: AuditSource, id: string, roles: string[], hash: string | null): Promise<boolean> {
  const data = { id, roles, active: true, ...(hash === null ? {} : { password: hash }) };
  const changed = ['roles', 'active', ...(hash === null ? [] : ['password'])];
  return (await run(pool, withAudit({ ...source, ...event('create', id, 201, changed) },
    sql`INSERT INTO people (id, data) VALUES (${id}::varchar, ${JSON.stringify(data)}::jsonb) ON CONFLICT (id) DO NOTHING RETURNING id`))) === 1;
}

/** Merges `fields` into a person's document; false when there is no such person. */
function update(pool: pg.Pool, source: AuditSource, id: string, fields: Record<string, unknown>): Promise<number> {
  return run(pool, withAudit({ ...source, ...event('update', id, 200, Object.keys(fields)) },
    sql`UPDATE people SET data = COALESCE(data, '{}'::jsonb) || ${JSON.stringify(fields)}::jsonb WHERE id = ${id}::varchar RETURNING id`));
}

export async function setPasswordHash(pool: pg.Pool, source: AuditSource, id: string, hash: string): Promise<boolean> {
  return (await update(pool, source, id, { password: hash })) === 1;
}

export async function setRoles(pool: pg.Pool, source: AuditSource, id: string, roles: string[]): Promise<boolean> {
  return (await update(pool, source, id, { roles })) === 1;
}

export async function deactivate(pool: pg.Pool, source: AuditSource, id: string): Promise<boolean> {
  return (await update(pool, source, id, { active: false })) === 1;
}

/**
 * Clears the account's lockout: its failures and lock rows from all addresses (scope
 * `account`) and from each address (scope `pair`, keyed by login_pair_key(), sql/031: the prefix of the
 * account's keys is its key with an empty address). An
 * address's own count is the address's, not the account's, and stays. Audited even when
 * nothing was there for an account that exists, so the trail shows the request; for an
 * id that is no account and has no failures, nothing is done. Returns the failure rows
 * removed and whether the account exists.
 */
export async function unlockAccount(pool: pg.Pool, source: AuditSource, id: string): Promise<{ removed: number; account: boolean }> {
  // starts_with, not LIKE: an id may hold `_`, which LIKE reads as a wildcard.
  const removed = sql`DELETE FROM login_failures WHERE (scope = 'account' AND key = ${id}::text)
    OR (scope = 'pair' AND starts_with(key, login_pair_key(${id}::text, ''))) RETURNING 1`;
  const unlocked = sql`DELETE FROM login_locks WHERE (scope = 'account' AND key = ${id}::text)
    OR (scope = 'pair' AND starts_with(key, login_pair_key(${id}::text, ''))) RETURNING 1`;
  // An account that does not exist may have failures (they lock the same way); when it
  // has none either, nothing happened and nothing is audited.
  const account = sql`EXISTS (SELECT 1 FROM people WHERE id = ${id}::varchar)`;
  const statement = sql`WITH d AS (${removed}), l AS (${unlocked}),
    a AS (${auditInsert({ ...source, ...event('unlock', id, 200) }, sql`(${account} OR EXISTS (SELECT 1 FROM d) OR EXISTS (SELECT 1 FROM l))`)})
    SELECT (SELECT count(*)::int FROM d) AS removed, ${account} AS account`;
  const { rows } = await pool.query<{ removed: number; account: boolean }>(statement.text, statement.values);
  return rows[0]!;
}
