// The subscriptions of the API: created, read, listed, changed (pause, resume, a new
// URL or secret) and removed, each write with its audit row in the same statement. A
// principal sees and manages only its own, unless it administers accounts (owner.ts).
// The secret is written, never read back.
import sql, { join, raw, type Sql } from 'sql-template-tag';
import { audited, type ResourceContext } from '../resources/context.js';
import { empty, json, type Reply } from '../http/reply.js';
import { classifyDbError } from '../db/errors.js';
import { inTransaction } from '../db/pool.js';
import type { AuditEvent } from '../audit/entry.js';
import { errors } from '../http/errors.js';
import type { Kind } from '../changes/kinds.js';

export interface SubscriptionInput {
  url: string;
  secret: string;
  /** null: every kind the owner may see. */
  kinds: Kind[] | null;
  person: string | null;
  includeDocs: boolean;
  /** Deliver the changes after this seq. */
  since: number;
}

export interface SubscriptionPatch {
  url?: string;
  secret?: string;
  kinds?: Kind[] | null;
  person?: string | null;
  includeDocs?: boolean;
  /** paused stops delivery; active resumes it at once (attempts and error cleared). */
  state?: 'active' | 'paused';
}

const JSON_TEXT = raw(`jsonb_build_object('id', id, 'owner', owner, 'url', url, 'kinds', kinds, 'person', person,
  'include_docs', include_docs, 'state', state, 'last_seq', last_seq, 'last_error', last_error, 'attempts', attempts,
  'failing_since', failing_since, 'next_attempt_at', next_attempt_at, 'delivered_at', delivered_at,
  'created_at', created_at, 'updated_at', updated_at)::text`);

const NOUN = 'Subscription';

function event(action: AuditEvent['action'], id: string, person: string | null, status: number): AuditEvent {
  return { action, recordId: id, person, status };
}

/** `AND owner = ...` when only the principal's own subscriptions are reachable. */
const ownedBy = (owner: string | undefined): Sql => (owner === undefined ? sql`` : sql` AND owner = ${owner}::varchar`);

/** Transaction-scoped advisory lock class (key: the owner's hash) under which an owner's creations take turns. */
const OWNER_LOCK = 1952999475;

/**
 * Registers a subscription, if its owner has fewer than `maxPerOwner` (409
 * TOO_MANY_SUBSCRIPTIONS otherwise). The same owner registering the same URL again with
 * the same settings gets the stored one (200), as a node resending after a lost answer,
 * also at the cap; other settings for that URL are a 409.
 */
export async function createSubscription(ctx: ResourceContext, owner: string, input: SubscriptionInput, maxPerOwner: number): Promise<Reply> {
  const { rows: [next] } = await ctx.pool.query<{ id: string }>(`SELECT nextval('subscriptions_id_seq')::text AS id`);
  const id = next!.id;
  const insert = sql`INSERT INTO subscriptions (id, owner, url, secret, kinds, person, include_docs, last_seq)
    SELECT ${id}::bigint, ${owner}::varchar, ${input.url}::text, ${input.secret}::text, ${input.kinds}::text[], ${input.person}::varchar,
      ${input.includeDocs}::boolean, ${input.since}::bigint
    WHERE (SELECT count(*) FROM subscriptions WHERE owner = ${owner}::varchar) < ${maxPerOwner}::int
    ON CONFLICT (owner, url) DO NOTHING RETURNING ${JSON_TEXT} AS j`;
  const { text, values } = audited(ctx, event('create', id, input.person, 201), insert);
  // One owner's creations take turns, and each counts in a statement begun after the
  // lock: it sees those committed before it, so parallel requests cannot pass the cap.
  const created = await inTransaction(ctx.pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [OWNER_LOCK, owner]);
    return (await tx.query<{ j: string | null }>(text, values)).rows[0];
  });
  if (created?.j != null) return json(201, created.j, { Location: `/subscriptions/${id}` });
  const { rows } = await ctx.pool.query<{ j: string; same: boolean }>(
    `SELECT ${JSON_TEXT.text} AS j, (secret = $3 AND kinds IS NOT DISTINCT FROM $4::text[] AND person IS NOT DISTINCT FROM $5::varchar
       AND include_docs = $6) AS same FROM subscriptions WHERE owner = $1 AND url = $2`,
    [owner, input.url, input.secret, input.kinds, input.person, input.includeDocs]);
  if (rows[0]?.same) return json(200, rows[0].j);
  if (rows[0]) throw errors.exists(`A subscription of this account to ${input.url}`);
  throw errors.tooManySubscriptions(maxPerOwner);
}

export async function getSubscription(ctx: ResourceContext, id: string, owner?: string): Promise<Reply> {
  const q = sql`SELECT ${JSON_TEXT} AS j FROM subscriptions WHERE id = ${id}::bigint${ownedBy(owner)}`;
  const { rows } = await ctx.pool.query<{ j: string }>(q.text, q.values);
  if (!rows[0]) throw errors.notFound(NOUN);
  return json(200, rows[0].j);
}

export async function listSubscriptions(ctx: ResourceContext, owner?: string): Promise<Reply> {
  const q = sql`SELECT COALESCE(json_agg(j ORDER BY id), '[]')::text AS j FROM (SELECT id, ${JSON_TEXT}::json AS j FROM subscriptions
    WHERE true${ownedBy(owner)}) s`;
  const { rows } = await ctx.pool.query<{ j: string }>(q.text, q.values);
  return json(200, rows[0]!.j);
}

export async function updateSubscription(ctx: ResourceContext, id: string, owner: string | undefined, patch: SubscriptionPatch): Promise<Reply> {
  const sets: Sql[] = [sql`updated_at = now()`];
  if (patch.url !== undefined) sets.push(sql`url = ${patch.url}::text`);
  if (patch.secret !== undefined) sets.push(sql`secret = ${patch.secret}::text`);
  if (patch.kinds !== undefined) sets.push(sql`kinds = ${patch.kinds}::text[]`);
  if (patch.person !== undefined) sets.push(sql`person = ${patch.person}::varchar`);
  if (patch.includeDocs !== undefined) sets.push(sql`include_docs = ${patch.includeDocs}::boolean`);
  if (patch.state === 'paused') sets.push(sql`state = 'paused'`);
  if (patch.state === 'active') {
    sets.push(sql`state = 'active', attempts = 0, last_error = NULL, failing_since = NULL, next_attempt_at = now()`);
  }
  const update = sql`UPDATE subscriptions SET ${join(sets, ', ')} WHERE id = ${id}::bigint${ownedBy(owner)} RETURNING ${JSON_TEXT} AS j`;
  const { text, values } = audited(ctx, event('update', id, null, 200), update);
  try {
    const { rows } = await ctx.pool.query<{ j: string | null }>(text, values);
    if (rows[0]?.j == null) throw errors.notFound(NOUN);
    return json(200, rows[0].j);
  } catch (err) {
    if (classifyDbError(err) === 'unique') throw errors.exists(`A subscription of this account to ${patch.url}`);
    throw err;
  }
}

export async function deleteSubscription(ctx: ResourceContext, id: string, owner?: string): Promise<Reply> {
  const remove = sql`DELETE FROM subscriptions WHERE id = ${id}::bigint${ownedBy(owner)} RETURNING id`;
  const { text, values } = audited(ctx, event('delete', id, null, 204), remove);
  const { rows } = await ctx.pool.query<{ id: string | null }>(text, values);
  if (rows[0]?.id == null) throw errors.notFound(NOUN);
  return empty(204);
}
