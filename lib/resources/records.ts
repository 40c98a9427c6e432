// People, domiciliary units and institutions behave alike: a JSON document per id,
// listed, read, created and merged by PATCH (`data || body`, in one atomic UPDATE).
// A create that finds the very document it would store answers 200 and changes
// nothing (a client resending after an interrupted sync); a different one is 409.
// What differs for people lives in people.ts. Bodies go to PostgreSQL as sent (jsonb
// keeps their numbers exactly); the server adds its own fields there.
import sql, { raw, type Sql } from 'sql-template-tag';
import { audited, type ResourceContext } from './context.js';
import { errors } from '../http/errors.js';
import { json, type Reply } from '../http/reply.js';
import type { AuditEvent } from '../audit/entry.js';
import { auditInsert } from '../audit/entry.js';
import { run, statement } from '../db/run.js';
import { listingReply } from './listing.js';
import { INSTITUTION, PERSON, UNIT, ownerColumn, type KindRow } from '../kinds/registry.js';
import { keyViolation, type Violation } from '../kinds/rules.js';

/** The kinds of record that are one document per id, without a book (lib/kinds/registry.ts). */
export type RecordKind = typeof PERSON | typeof UNIT | typeof INSTITUTION;

/** A record rule broken (lib/kinds/rules.ts), as the API answers it: 400 ID_MISMATCH or INVALID_VALUE. */
export function enforce(v: Violation | undefined): void {
  if (!v) return;
  throw v.mismatch ? errors.idMismatch(v.field) : errors.badValue(v.message);
}

/** Checks a body's `id` against the URL's; a different one is a 400. */
export function checkBodyId(kind: KindRow, id: string, body: Record<string, unknown>): void {
  if (body.id !== undefined) enforce(keyViolation(kind.keys, { id }, body));
}

export function listRecords(ctx: ResourceContext, kind: RecordKind): Promise<Reply> {
  return listingReply(ctx, { table: kind.table, json: kind.json, where: [], path: kind.path, upstream: true });
}

export async function getRecord(ctx: ResourceContext, kind: RecordKind, id: string): Promise<Reply> {
  const rows = await run<{ j: string | null }>(ctx.pool, statement(ctx.guard, [],
    sql`SELECT ${ctx.guard.ok} AS guard_ok, (SELECT ${raw(kind.json)} FROM ${raw(kind.table)} WHERE id = ${id}::varchar AND ${ctx.guard.ok}) AS j`),
  { prepare: true });
  const found = rows[0]?.j;
  if (found == null) throw errors.notFound(kind.noun);
  return json(200, found);
}

/** The audit event of a write to one record; a person record concerns that person. */
export function writeEvent(kind: RecordKind, action: AuditEvent['action'], id: string, status: number, changed?: string[]): AuditEvent {
  return { action, recordId: id, person: kind.person === 'id' ? id : null, status, changed };
}

/** The document to store: the body as sent, then the server's fields (`id` and `extra`) over it. */
export function documentOf(ctx: ResourceContext, id: string, extra: Record<string, unknown> = {}, without: string[] = []): Sql {
  const body = without.reduce((acc, key) => sql`(${acc} - ${key}::text)`, sql`${ctx.bodyText}::jsonb`);
  return sql`${body} || jsonb_build_object('id', ${id}::text) || ${JSON.stringify(extra)}::jsonb`;
}

export interface CreateSpec {
  kind: KindRow;
  id: string;
  /** The document to store (documentOf). */
  data: Sql;
  /** A record in a book (a page): the person it belongs to (a resend must name the same one). */
  book?: string;
  /** Whether `password` is taken out of what is sent back. */
  strip: boolean;
  event: AuditEvent;
  location: string;
}

const PEOPLE_TABLE = raw(PERSON.table);

type Outcome = { guard_ok: boolean; outcome: 'created' | 'same' | 'conflict' | null; j: string | null };

/**
 * Inserts the document unless the id is taken, with its audit row, in one statement;
 * when taken, compares it with the stored one there too. A concurrent insert that
 * committed after the statement began is compared by a second read.
 */
export async function createOnce(ctx: ResourceContext, spec: CreateSpec): Promise<Reply> {
  const table = raw(spec.kind.table);
  const ok = ctx.guard.ok;
  const doc = (alias: string) => raw(spec.strip ? `(${alias}.data - 'password')::text` : `${alias}.data::text`);
  // A record in a book names its person in its owner column (a page's `book`).
  const owner = spec.book === undefined ? undefined : raw(ownerColumn(spec.kind)!);
  const columns = owner === undefined ? sql`id, data` : sql`id, ${owner}, data`;
  const values = owner === undefined ? sql`${spec.id}::varchar, doc.data` : sql`${spec.id}::varchar, ${spec.book}::varchar, doc.data`;
  const sameBook = owner === undefined ? sql`true` : sql`t.${owner} = ${spec.book}::varchar`;
  const requires = owner === undefined ? sql`true` : sql`EXISTS (SELECT 1 FROM ${PEOPLE_TABLE} WHERE id = ${spec.book}::varchar)`;
  const rows = await run<Outcome>(ctx.pool, statement(ctx.guard, [
    sql`doc AS (SELECT ${spec.data} AS data)`,
    sql`ins AS (INSERT INTO ${table} (${columns}) SELECT ${values} FROM doc WHERE ${requires} AND ${ok} ON CONFLICT (id) DO NOTHING RETURNING data)`,
    sql`a AS (${auditInsert({ ...ctx.audit, ...spec.event }, sql`EXISTS (SELECT 1 FROM ins)`)})`,
  ], sql`SELECT true AS guard_ok, 'created' AS outcome, ${doc('ins')} AS j FROM ins
    UNION ALL
    SELECT true, CASE WHEN t.data = doc.data AND ${sameBook} THEN 'same' ELSE 'conflict' END,
      CASE WHEN t.data = doc.data AND ${sameBook} THEN ${doc('t')} END
    FROM ${table} t, doc WHERE t.id = ${spec.id}::varchar AND NOT EXISTS (SELECT 1 FROM ins) AND ${ok}
    UNION ALL
    SELECT false, NULL, NULL WHERE NOT ${ok}`), { prepare: true });
  let row: Outcome | undefined = rows[0];
  if (!row) {
    if (spec.book !== undefined && !(await personExists(ctx, spec.book))) throw errors.notFound('Person');
    const again = await run<Outcome>(ctx.pool, sql`SELECT true AS guard_ok, CASE WHEN t.data = (${spec.data}) AND ${sameBook} THEN 'same' ELSE 'conflict' END AS outcome,
      CASE WHEN t.data = (${spec.data}) AND ${sameBook} THEN ${doc('t')} END AS j FROM ${table} t WHERE t.id = ${spec.id}::varchar`);
    row = again[0] ?? { guard_ok: true, outcome: 'conflict', j: null };
  }
  if (row.outcome === 'created') return json(201, row.j!, { Location: spec.location });
  if (row.outcome === 'same') return json(200, row.j!);
  throw errors.exists(spec.kind.noun);
}

/** A row when person `id` exists. */
export const personRow = (id: string): Sql => sql`SELECT 1 FROM people WHERE id = ${id}::varchar`;

export async function personExists(ctx: ResourceContext, id: string): Promise<boolean> {
  const rows = await run(ctx.pool, personRow(id));
  return rows.length === 1;
}

/** Creates a record of `kind` from the body (with the server's `extra` fields); see createOnce. */
export function insertRecord(ctx: ResourceContext, kind: RecordKind, id: string, data: Sql, changed?: string[]): Promise<Reply> {
  return createOnce(ctx, {
    kind, id, data, strip: true,
    event: writeEvent(kind, 'create', id, 201, changed), location: `${kind.path}/${encodeURIComponent(id)}`,
  });
}

/** Merges `changes` into the stored document atomically, with its audit row; 404 when there is none. */
export async function mergeRecord(ctx: ResourceContext, kind: RecordKind, id: string, changes: Sql, changed?: string[]): Promise<Reply> {
  const rows = await run<{ j: string | null }>(ctx.pool, audited(ctx, writeEvent(kind, 'update', id, 200, changed),
    sql`UPDATE ${raw(kind.table)} SET data = COALESCE(data, '{}'::jsonb) || ${changes}
      WHERE id = ${id}::varchar AND ${ctx.guard.ok} RETURNING ${raw(kind.json)} AS j`), { prepare: true });
  const found = rows[0]?.j;
  if (found == null) throw errors.notFound(kind.noun);
  return json(200, found);
}

export function createRecord(ctx: ResourceContext, kind: RecordKind, id: string): Promise<Reply> {
  checkBodyId(kind, id, ctx.body);
  return insertRecord(ctx, kind, id, documentOf(ctx, id));
}

export function patchRecord(ctx: ResourceContext, kind: RecordKind, id: string): Promise<Reply> {
  checkBodyId(kind, id, ctx.body);
  return mergeRecord(ctx, kind, id, documentOf(ctx, id));
}

export const DUS: RecordKind = UNIT;
export const INSTITUTIONS: RecordKind = INSTITUTION;
export const PEOPLE: RecordKind = PERSON;
