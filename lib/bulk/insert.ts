// The statements of an import, one per kind and batch. A batch travels as a few
// parameters (line numbers as int[], ids and lines each as one newline-joined text that
// PostgreSQL splits: no line or id holds a newline) and is parsed by jsonb from the
// line's text. Which ids are taken is looked up first, without parsing a line; only the
// free ones are inserted, so a record already there is left as it is, the same file
// imported twice changes nothing, and a second import parses each line once, to compare
// it. As the API does, the stored document is `data` with `id` (and a page's `book`)
// set from the record. Pages whose person and documents whose page is missing are not
// inserted but returned, so a foreign key never fails the batch. COPY would need a
// dependency and a temporary table for the same checks; these statements, on a machine
// not otherwise busy, reach the target rate without either (bench/README.md).
import type pg from 'pg';
import { BY_BULK, PERSON, columnsOf, ownerColumn, type KindRow } from '../kinds/registry.js';
import type { BulkKind } from './kinds.js';
import type { CheckedRecord } from './validate.js';

export interface Batch { kind: BulkKind; records: CheckedRecord[] }

const SPLIT = (i: number) => `string_to_array($${i}::text, E'\\n')`;
/** The line parsed once (OFFSET 0 keeps PostgreSQL from copying the expression into each use). */
const PARSED = `LATERAL (SELECT u.line::jsonb AS rec OFFSET 0) r`;

/** The columns naming a record's person and the record it lives in (a page's book; a document's fedacct and pol), sent beside its id. */
function keyColumns(k: KindRow): string[] {
  return [ownerColumn(k), k.within?.column ?? null].filter((c): c is string => c !== null);
}

interface Statements {
  table: string;
  /** The table's columns, as inserted. */
  columns: string;
  /** The input rows: `n`, the ids, and the row as stored. */
  input: string;
  /** Which input rows `x` may go in: their person (page) or page of that person (document) exists. */
  present: string;
  /** Just the keys of the batch (no line parsed), to find the records `present` refuses; undefined: all are present. */
  keys?: string;
  /** What the change log records of an inserted row (sql/022_bulk_changes.sql): kind, id, person, page. */
  change: string;
  /** An existing row `t` differs from the input row `i`. */
  differs: string;
}

/** A kind's statements, from its row of the registry. */
function statementsOf(k: KindRow): Statements {
  const keys = keyColumns(k);
  const owner = ownerColumn(k);
  const splits = keys.map((_, i) => `, ${SPLIT(5 + i)}`).join('');
  const aliases = keys.map((c) => `, ${c}`).join('');
  // `data` with the record's id (and a page's book) set, merged only where the check found them missing or different (`m`): a merge copies the document.
  const data = k.stamped.length
    ? `CASE WHEN u.m THEN (r.rec -> 'data') || jsonb_build_object(${k.stamped.map((c) => `'${c}', u.${c}`).join(', ')}) ELSE r.rec -> 'data' END`
    : `r.rec -> 'data'`;
  const bytes = k.bytes ? `, decode(r.rec ->> '${k.bytes}', 'base64') AS ${k.bytes}` : '';
  const input = `SELECT u.n, u.id${keys.map((c) => `, u.${c}`).join('')}, ${data} AS data${bytes}
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, $4::bool[]${splits}) AS u(n, id, line, m${aliases}), ${PARSED}`;
  let present = 'true';
  if (k.within) {
    const parent = BY_BULK[k.within.bulk as BulkKind];
    present = `EXISTS (SELECT 1 FROM ${parent.table} p WHERE p.id = x.${k.within.column} AND p.${ownerColumn(parent)} = x.${owner})`;
  } else if (owner) {
    present = `EXISTS (SELECT 1 FROM ${PERSON.table} p WHERE p.id = x.${owner})`;
  }
  const columns = columnsOf(k);
  return {
    table: k.table,
    columns: columns.join(', '),
    input,
    present,
    keys: keys.length ? `SELECT u.n${aliases} FROM unnest($1::int[]${keys.map((_, i) => `, ${SPLIT(2 + i)}`).join('')}) AS u(n${aliases})` : undefined,
    change: `'${k.feed}', id, ${k.person ?? 'NULL'}, ${k.within?.column ?? 'NULL'}`,
    differs: columns.filter((c) => c !== 'id').map((c) => `t.${c} IS DISTINCT FROM i.${c}`).join(' OR '),
  };
}

const STATEMENTS = Object.fromEntries(Object.values(BY_BULK).map((k) => [k.bulk, statementsOf(k)])) as Record<BulkKind, Statements>;

/** The import's own change log, appended to `changes` by changes_log_bulk() at its commit. */
export const BULK_CHANGES = `CREATE TEMPORARY TABLE bulk_changes (ord bigserial, kind text, id varchar, person varchar, page varchar) ON COMMIT DROP`;

/** The values of a batch's key columns, each one newline-joined text. */
function keyValues(batch: Batch): string[] {
  const r = batch.records;
  const out: string[] = [];
  if (ownerColumn(BY_BULK[batch.kind])) out.push(r.map((x) => x.owner).join('\n'));
  if (BY_BULK[batch.kind].within) out.push(r.map((x) => x.within).join('\n'));
  return out;
}

function params(batch: Batch): unknown[] {
  const r = batch.records;
  const join = (f: (x: CheckedRecord) => string) => r.map(f).join('\n');
  return [r.map((x) => x.n), join((x) => x.id), join((x) => x.text), r.map((x) => x.merge), ...keyValues(batch)];
}

export interface BatchResult {
  inserted: number;
  /** Line numbers of records whose person (page) or page (document) is not there. */
  orphans: number[];
}

/** Line numbers of the batch's records whose id is not taken yet (no line is parsed for this). */
export async function freshLines(client: pg.PoolClient, batch: Batch): Promise<Set<number>> {
  const { table } = STATEMENTS[batch.kind];
  const { rows } = await client.query<{ n: number }>(
    `SELECT u.n FROM unnest($1::int[], ${SPLIT(2)}) AS u(n, id) WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.id = u.id)`,
    [batch.records.map((r) => r.n), batch.records.map((r) => r.id).join('\n')]);
  return new Set(rows.map((r) => r.n));
}

/**
 * Inserts the batch's records (whose ids freshLines found free) whose person or page is
 * there, noting each in bulk_changes in the same statement, and returns the others. A record written by someone else since then fails the
 * import (unique violation): nothing is written, and it can simply be run again.
 */
export async function insertBatch(client: pg.PoolClient, batch: Batch): Promise<BatchResult> {
  const { table, columns, input, present, change, keys } = STATEMENTS[batch.kind];
  const { rowCount } = await client.query(`WITH ins AS (INSERT INTO ${table} (${columns}) SELECT ${columns} FROM (${input}) x WHERE ${present} RETURNING *)
    INSERT INTO bulk_changes (kind, id, person, page) SELECT ${change} FROM ins`, params(batch));
  const inserted = rowCount ?? 0;
  if (inserted === batch.records.length || !keys) return { inserted, orphans: [] };
  const { rows } = await client.query<{ n: number }>(`SELECT x.n FROM (${keys}) x WHERE NOT ${present} ORDER BY x.n`,
    [batch.records.map((x) => x.n), ...keyValues(batch)]);
  return { inserted, orphans: rows.map((row) => row.n) };
}

/** Line numbers of the batch's records that exist with other content (kept as they are). */
export async function differingLines(client: pg.PoolClient, batch: Batch): Promise<number[]> {
  const { table, input, differs } = STATEMENTS[batch.kind];
  const { rows } = await client.query<{ n: number }>(
    `SELECT i.n FROM (${input}) i JOIN ${table} t ON t.id = i.id WHERE ${differs} ORDER BY i.n`, params(batch));
  return rows.map((r) => r.n);
}
