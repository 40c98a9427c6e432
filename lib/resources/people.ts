// People: records with a password, roles and an active flag (DESIGN §3). A password is
// stored hashed and never sent back. Changing roles, another person's `active` or
// password, granting any role but end_user, or storing a pre-made hash needs account
// administration (ACL name `roles`), and no one grants a role giving rights they do not
// hold; a person may change their own password and deactivate themselves. A person is
// deleted only once deactivated and without pages.
import sql, { join, raw, type Sql } from 'sql-template-tag';
import { audited, type ResourceContext } from './context.js';
import { errors } from '../http/errors.js';
import { empty, json, type Reply } from '../http/reply.js';
import { withAudit } from '../audit/entry.js';
import { run, statement } from '../db/run.js';
import { classifyDbError } from '../db/errors.js';
import { storedPassword } from '../auth/policy.js';
import { inTransaction } from '../db/pool.js';
import { PEOPLE, checkBodyId, documentOf, enforce, insertRecord, mergeRecord, writeEvent } from './records.js';
import { DEPENDENTS, PERSON, ownerColumn } from '../kinds/registry.js';
import { valueViolation } from '../kinds/rules.js';

/** What a person may be created with by anyone allowed to create people. */
const END_USER = 'end_user';
const DEFAULT_ROLES = [END_USER];
const SENSITIVE = ['password', 'roles', 'active'] as const;

/** `roles` and `active` of the right types (the record rules of lib/kinds/rules.ts). */
function checkTypes(body: Record<string, unknown>): void {
  enforce(valueViolation(PERSON.values, body));
}

/**
 * What keeps a person from being removed: records of the kinds that belong to a person
 * (pages, documents: lib/kinds/registry.ts DEPENDENTS). Their foreign keys would refuse
 * the DELETE; this names them in the answer instead.
 */
function noDependents(id: string): Sql {
  return join(DEPENDENTS.map((k) => sql`NOT EXISTS (SELECT 1 FROM ${raw(k.table)} WHERE ${raw(ownerColumn(k)!)} = ${id}::varchar)`), ' AND ');
}
const HAS_DEPENDENTS = `The person still has ${DEPENDENTS.map((k) => k.plural).join(' or ')}`;

/** Refuses granting `roles` (those the person does not hold yet) beyond the principal's authority. */
function checkGrants(ctx: ResourceContext, roles: readonly string[]): void {
  for (const role of roles) {
    if (!ctx.authority.administer) throw errors.forbiddenField('roles');
    if (!ctx.authority.mayGrant(role)) throw errors.roleNotGrantable(role);
  }
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export async function createPerson(ctx: ResourceContext, id: string): Promise<Reply> {
  const body = ctx.body;
  checkBodyId(PEOPLE, id, body);
  checkTypes(body);
  checkGrants(ctx, ((body.roles as string[] | undefined) ?? []).filter((r) => r !== END_USER));
  const extra: Record<string, unknown> = {};
  if (!('roles' in body)) extra.roles = DEFAULT_ROLES;
  if ('password' in body) extra.password = await storedPassword(ctx.passwords, body.password, ctx.authority.administer);
  return insertRecord(ctx, PEOPLE, id, documentOf(ctx, id, extra, ['password']), SENSITIVE.filter((f) => f in body));
}

export async function patchPerson(ctx: ResourceContext, id: string): Promise<Reply> {
  const body = ctx.body;
  checkBodyId(PEOPLE, id, body);
  checkTypes(body);
  const self = id === ctx.principal?.id;
  const extra: Record<string, unknown> = {};
  if ('password' in body) {
    if (!self && !ctx.authority.administer) throw errors.forbiddenField('password');
    extra.password = await storedPassword(ctx.passwords, body.password, ctx.authority.administer);
  }
  const changes = documentOf(ctx, id, extra, ['password']);
  if (!('roles' in body) && !('active' in body)) return mergeRecord(ctx, PEOPLE, id, changes, 'password' in body ? ['password'] : undefined);
  // Roles and `active` are compared with what is stored, under a row lock.
  return inTransaction(ctx.pool, async (tx) => {
    const rows = await run<{ found: boolean; roles: unknown; active: unknown }>(tx, statement(ctx.guard, [], sql`
      SELECT ${ctx.guard.ok} AS guard_ok, p.id IS NOT NULL AS found, p.data->'roles' AS roles, p.data->'active' AS active
      FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT id, data FROM people WHERE id = ${id}::varchar AND ${ctx.guard.ok} FOR UPDATE) p ON true`));
    const stored = rows[0];
    if (!stored?.found) throw errors.notFound(PEOPLE.noun);
    const changed: string[] = 'password' in body ? ['password'] : [];
    if ('roles' in body && !sameJson(body.roles, stored.roles)) {
      if (!ctx.authority.administer) throw errors.forbiddenField('roles');
      const held = Array.isArray(stored.roles) ? stored.roles : [];
      checkGrants(ctx, (body.roles as string[]).filter((r) => !held.includes(r)));
      changed.push('roles');
    }
    if ('active' in body && !sameJson(body.active, stored.active)) {
      // Anyone may deactivate themselves; only an administrator reactivates.
      if (!ctx.authority.administer && !(self && body.active === false)) throw errors.forbiddenField('active');
      changed.push('active');
    }
    // The row is locked and the guard held: the update needs no guard of its own.
    const updated = await run<{ j: string }>(tx, withAudit({ ...ctx.audit, ...writeEvent(PEOPLE, 'update', id, 200, changed) },
      sql`UPDATE people SET data = COALESCE(data, '{}'::jsonb) || ${changes} WHERE id = ${id}::varchar RETURNING ${raw(PERSON.json)} AS j`));
    return json(200, updated[0]!.j);
  });
}

export async function deletePerson(ctx: ResourceContext, id: string): Promise<Reply> {
  try {
    const rows = await run<{ id: string | null }>(ctx.pool, audited(ctx, writeEvent(PEOPLE, 'delete', id, 204),
      sql`DELETE FROM people p WHERE id = ${id}::varchar AND p.data->'active' = 'false'::jsonb AND ${ctx.guard.ok}
         AND ${noDependents(id)} RETURNING id`));
    if (rows[0]?.id != null) return empty(204);
  } catch (err) {
    // A page written concurrently still references the person.
    if (classifyDbError(err) === 'foreign-key') throw errors.personInUse(HAS_DEPENDENTS);
    throw err;
  }
  const rows = await run<{ active: unknown; pages: boolean }>(ctx.pool, sql`SELECT data->'active' AS active, NOT (${noDependents(id)}) AS pages
     FROM people WHERE id = ${id}::varchar`);
  const row = rows[0];
  if (!row) throw errors.notFound(PEOPLE.noun);
  if (row.active !== false) throw errors.personInUse('Deactivate the person ("active": false) before deleting them');
  if (row.pages) throw errors.personInUse(HAS_DEPENDENTS);
  throw errors.changedMeanwhile();
}
