// People, domiciliary units and institutions behave alike: a JSON document per id,
// listed, read, created (409 if it exists) and merged by PATCH (`data || body`, in one
// atomic UPDATE). What differs for people lives in people.ts.
import { audited, type ResourceContext, type Reply } from './context.js';
import { errors } from '../http/errors.js';
import type { AuditEvent } from '../audit/entry.js';
import { sendListing } from './listing.js';

export interface RecordKind {
  /** Table name (from code, never from a request). */
  table: 'people' | 'dus' | 'institutions';
  /** Name of one record in messages. */
  noun: string;
  /** URL prefix, for Location and Link. */
  path: string;
  /** Whether ids are compared upper-cased (person ids are). */
  upper: boolean;
}

/** The stored document as sent to clients: never a password hash. */
export const PUBLIC_JSON = `(COALESCE(data, '{}'::jsonb) - 'password')::text`;

/** Checks a body's `id` against the URL's; a different one is a 400. */
export function checkBodyId(kind: RecordKind, id: string, body: Record<string, unknown>): void {
  if (body.id === undefined) return;
  const given = typeof body.id === 'string' ? (kind.upper ? body.id.toUpperCase() : body.id) : body.id;
  if (given !== id) throw errors.idMismatch('id');
}

export function listRecords(ctx: ResourceContext, kind: RecordKind): Promise<void> {
  return sendListing(ctx, { table: kind.table, json: PUBLIC_JSON, where: '', args: [], path: kind.path });
}

export async function getRecord(ctx: ResourceContext, kind: RecordKind, id: string): Promise<Reply> {
  // Named, so each connection plans the hottest read once instead of on every request.
  const { rows } = await ctx.pool.query<{ j: string }>({ name: `get-${kind.table}`, text: `SELECT ${PUBLIC_JSON} AS j FROM ${kind.table} WHERE id = $1`, values: [id] });
  if (!rows[0]) throw errors.notFound(kind.noun);
  return { status: 200, json: rows[0].j };
}

/** The audit event of a write to one record; a person record concerns that person. */
export function writeEvent(kind: RecordKind, action: AuditEvent['action'], id: string, status: number): AuditEvent {
  return { action, recordId: id, person: kind.table === 'people' ? id : null, status };
}

/** Inserts `data` (already prepared) under `id`; 409 when the id is taken. */
export async function insertRecord(ctx: ResourceContext, kind: RecordKind, id: string, data: Record<string, unknown>): Promise<Reply> {
  const { rows } = await ctx.pool.query<{ j: string }>(...audited(ctx, writeEvent(kind, 'create', id, 201),
    `INSERT INTO ${kind.table} (id, data) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING ${PUBLIC_JSON} AS j`,
    [id, JSON.stringify({ ...data, id })],
  ));
  if (!rows[0]) throw errors.exists(kind.noun);
  return { status: 201, json: rows[0].j, headers: { Location: `${kind.path}/${encodeURIComponent(id)}` } };
}

/** Merges `changes` into the stored document atomically; 404 when there is none. */
export async function mergeRecord(ctx: ResourceContext, kind: RecordKind, id: string, changes: Record<string, unknown>): Promise<Reply> {
  const { rows } = await ctx.pool.query<{ j: string }>(...audited(ctx, writeEvent(kind, 'update', id, 200),
    `UPDATE ${kind.table} SET data = COALESCE(data, '{}'::jsonb) || $2::jsonb WHERE id = $1 RETURNING ${PUBLIC_JSON} AS j`,
    [id, JSON.stringify({ ...changes, id })],
  ));
  if (!rows[0]) throw errors.notFound(kind.noun);
  return { status: 200, json: rows[0].j };
}

export function createRecord(ctx: ResourceContext, kind: RecordKind, id: string): Promise<Reply> {
  checkBodyId(kind, id, ctx.body);
  return insertRecord(ctx, kind, id, ctx.body);
}

export function patchRecord(ctx: ResourceContext, kind: RecordKind, id: string): Promise<Reply> {
  checkBodyId(kind, id, ctx.body);
  return mergeRecord(ctx, kind, id, ctx.body);
}

export const DUS: RecordKind = { table: 'dus', noun: 'Domiciliary unit', path: '/domiciliary-units', upper: false };
export const INSTITUTIONS: RecordKind = { table: 'institutions', noun: 'Institution', path: '/institutions', upper: false };
export const PEOPLE: RecordKind = { table: 'people', noun: 'Person', path: '/people', upper: true };
