// People: records with a password, roles and an active flag. A password is stored
// hashed and never sent back; only a global role may change roles or another
// person's active flag; a person is deleted only once deactivated and without pages.
import { audited, type ResourceContext, type Reply } from './context.js';
import { errors, HttpError } from '../http/errors.js';
import { storedPassword } from '../auth/policy.js';
import { inTransaction } from '../db/pool.js';
import { PEOPLE, checkBodyId, insertRecord, mergeRecord, PUBLIC_JSON, writeEvent } from './records.js';

const DEFAULT_ROLES = ['end_user'];

/** Type checks and password hashing common to POST and PATCH. */
async function prepare(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const data = { ...body };
  if ('roles' in data && (!Array.isArray(data.roles) || data.roles.some((r) => typeof r !== 'string'))) {
    throw errors.badValue('"roles" must be a list of role names');
  }
  if ('active' in data && typeof data.active !== 'boolean') throw errors.badValue('"active" must be true or false');
  if ('password' in data) data.password = await storedPassword(data.password);
  return data;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export async function createPerson(ctx: ResourceContext, id: string): Promise<Reply> {
  checkBodyId(PEOPLE, id, ctx.body);
  if ('roles' in ctx.body && !ctx.global) throw errors.forbiddenField('roles');
  if ('active' in ctx.body && !ctx.global && id !== ctx.principal?.id) throw errors.forbiddenField('active');
  const data = await prepare(ctx.body);
  if (!('roles' in data)) data.roles = DEFAULT_ROLES;
  return insertRecord(ctx, PEOPLE, id, data);
}

export async function patchPerson(ctx: ResourceContext, id: string): Promise<Reply> {
  checkBodyId(PEOPLE, id, ctx.body);
  const data = await prepare(ctx.body);
  const guarded = !ctx.global && ('roles' in data || 'active' in data);
  if (!guarded) return mergeRecord(ctx, PEOPLE, id, data);
  // A non-global user may resend their own roles and active flag unchanged, never alter them.
  return inTransaction(ctx.pool, async (client) => {
    const { rows } = await client.query<{ roles: unknown; active: unknown }>(
      `SELECT data->'roles' AS roles, data->'active' AS active FROM people WHERE id = $1 FOR UPDATE`, [id]);
    if (!rows[0]) throw errors.notFound(PEOPLE.noun);
    for (const field of ['roles', 'active'] as const) {
      if (field in data && !sameJson(data[field], rows[0][field])) throw errors.forbiddenField(field);
    }
    const updated = await client.query<{ j: string }>(...audited(ctx, writeEvent(PEOPLE, 'update', id, 200),
      `UPDATE people SET data = COALESCE(data, '{}'::jsonb) || $2::jsonb WHERE id = $1 RETURNING ${PUBLIC_JSON} AS j`,
      [id, JSON.stringify({ ...data, id })]));
    return { status: 200, json: updated.rows[0]!.j };
  });
}

export async function deletePerson(ctx: ResourceContext, id: string): Promise<Reply> {
  try {
    const { rowCount } = await ctx.pool.query(...audited(ctx, writeEvent(PEOPLE, 'delete', id, 204),
      `DELETE FROM people p WHERE id = $1 AND p.data->'active' = 'false'::jsonb
         AND NOT EXISTS (SELECT 1 FROM pols WHERE book = $1)
         AND NOT EXISTS (SELECT 1 FROM personal_docs WHERE fedacct = $1) RETURNING id`, [id]));
    if (rowCount) return { status: 204 };
  } catch (err) {
    // A page written concurrently still references the person.
    if ((err as { code?: string }).code === '23503') throw errors.personInUse('The person still has pages or documents');
    throw err;
  }
  const { rows } = await ctx.pool.query<{ active: unknown; pages: boolean }>(
    `SELECT data->'active' AS active,
       EXISTS (SELECT 1 FROM pols WHERE book = $1) OR EXISTS (SELECT 1 FROM personal_docs WHERE fedacct = $1) AS pages
     FROM people WHERE id = $1`, [id]);
  const row = rows[0];
  if (!row) throw errors.notFound(PEOPLE.noun);
  if (row.active !== false) throw errors.personInUse('Deactivate the person ("active": false) before deleting them');
  if (row.pages) throw errors.personInUse('The person still has pages or documents');
  throw new HttpError(409, 'CONFLICT', 'The person changed while being deleted; try again');
}
