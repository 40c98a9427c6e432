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
import type { BulkKind } from './kinds.js';
import type { CheckedRecord } from './validate.js';

export interface Batch { kind: BulkKind; records: CheckedRecord[] }

const SPLIT = (i: number) => `string_to_array($${i}::text, E'\\n')`;
/** The line parsed once (OFFSET 0 keeps PostgreSQL from copying the expression into each use). */
const PARSED = `LATERAL (SELECT u.line::jsonb AS rec OFFSET 0) r`;
/** `data` with the record's `id` set, merged only where the check found it missing or different (`m`): a merge copies the document. */
const WITH_ID = `CASE WHEN u.m THEN (r.rec -> 'data') || jsonb_build_object('id', u.id) ELSE r.rec -> 'data' END`;

/** Each kind's input rows: `n`, the ids, and the row as stored. */
const INPUT: Record<BulkKind, string> = {
  person: `SELECT u.n, u.id, ${WITH_ID} AS data FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, $4::bool[]) AS u(n, id, line, m), ${PARSED}`,
  unit: `SELECT u.n, u.id, ${WITH_ID} AS data FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, $4::bool[]) AS u(n, id, line, m), ${PARSED}`,
  institution: `SELECT u.n, u.id, ${WITH_ID} AS data FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, $4::bool[]) AS u(n, id, line, m), ${PARSED}`,
  page: `SELECT u.n, u.id, u.book, CASE WHEN u.m THEN (r.rec -> 'data') || jsonb_build_object('id', u.id, 'book', u.book) ELSE r.rec -> 'data' END AS data
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, $4::bool[], ${SPLIT(5)}) AS u(n, id, line, m, book), ${PARSED}`,
  document: `SELECT u.n, u.id, u.fedacct, u.pol, r.rec -> 'data' AS data, decode(r.rec ->> 'document', 'base64') AS document
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, $4::bool[], ${SPLIT(5)}, ${SPLIT(6)}) AS u(n, id, line, m, fedacct, pol), ${PARSED}`,
};

/** Which input rows `x` may go in: their person (page) or page of that person (document) exists. */
const PRESENT: Record<BulkKind, string> = {
  person: 'true', unit: 'true', institution: 'true',
  page: 'EXISTS (SELECT 1 FROM people p WHERE p.id = x.book)',
  document: 'EXISTS (SELECT 1 FROM pols p WHERE p.id = x.pol AND p.book = x.fedacct)',
};

/** Just the keys of a page or document batch (no line parsed), to find the records PRESENT refuses. */
const KEYS: Partial<Record<BulkKind, string>> = {
  page: `SELECT u.n, u.book FROM unnest($1::int[], ${SPLIT(2)}) AS u(n, book)`,
  document: `SELECT u.n, u.fedacct, u.pol FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}) AS u(n, fedacct, pol)`,
};

const INSERT: Record<BulkKind, { table: string; columns: string }> = {
  person: { table: 'people', columns: 'id, data' },
  unit: { table: 'dus', columns: 'id, data' },
  institution: { table: 'institutions', columns: 'id, data' },
  page: { table: 'pols', columns: 'id, book, data' },
  document: { table: 'personal_docs', columns: 'id, fedacct, pol, document, data' },
};

/** What the change log records of an inserted row (sql/022_bulk_changes.sql): kind, id, person, page. */
const CHANGE: Record<BulkKind, string> = {
  person: `'people', id, id, NULL`,
  unit: `'units', id, NULL, NULL`,
  institution: `'institutions', id, NULL, NULL`,
  page: `'pols', id, book, NULL`,
  document: `'documents', id, fedacct, pol`,
};

/** The import's own change log, appended to `changes` by changes_log_bulk() at its commit. */
export const BULK_CHANGES = `CREATE TEMPORARY TABLE bulk_changes (ord bigserial, kind text, id varchar, person varchar, page varchar) ON COMMIT DROP`;

/** An existing row differs from the input row `i`. */
const DIFFERS: Record<BulkKind, { table: string; condition: string }> = {
  person: { table: 'people', condition: 't.data IS DISTINCT FROM i.data' },
  unit: { table: 'dus', condition: 't.data IS DISTINCT FROM i.data' },
  institution: { table: 'institutions', condition: 't.data IS DISTINCT FROM i.data' },
  page: { table: 'pols', condition: 't.data IS DISTINCT FROM i.data OR t.book IS DISTINCT FROM i.book' },
  document: {
    table: 'personal_docs',
    condition: 't.data IS DISTINCT FROM i.data OR t.fedacct IS DISTINCT FROM i.fedacct OR t.pol IS DISTINCT FROM i.pol OR t.document IS DISTINCT FROM i.document',
  },
};

function params(batch: Batch): unknown[] {
  const r = batch.records;
  const join = (f: (x: CheckedRecord) => string) => r.map(f).join('\n');
  const out: unknown[] = [r.map((x) => x.n), join((x) => x.id), join((x) => x.text), r.map((x) => x.merge)];
  if (batch.kind === 'page' || batch.kind === 'document') out.push(join((x) => x.owner!));
  if (batch.kind === 'document') out.push(join((x) => x.pol!));
  return out;
}

export interface BatchResult {
  inserted: number;
  /** Line numbers of records whose person (page) or page (document) is not there. */
  orphans: number[];
}

/** Line numbers of the batch's records whose id is not taken yet (no line is parsed for this). */
export async function freshLines(client: pg.PoolClient, batch: Batch): Promise<Set<number>> {
  const { table } = INSERT[batch.kind];
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
  const k = batch.kind;
  const { table, columns } = INSERT[k];
  const { rowCount } = await client.query(`WITH ins AS (INSERT INTO ${table} (${columns}) SELECT ${columns} FROM (${INPUT[k]}) x WHERE ${PRESENT[k]} RETURNING *)
    INSERT INTO bulk_changes (kind, id, person, page) SELECT ${CHANGE[k]} FROM ins`, params(batch));
  const inserted = rowCount ?? 0;
  const keys = KEYS[k];
  if (inserted === batch.records.length || !keys) return { inserted, orphans: [] };
  const r = batch.records;
  const values: unknown[] = k === 'page' ? [r.map((x) => x.n), r.map((x) => x.owner).join('\n')]
    : [r.map((x) => x.n), r.map((x) => x.owner).join('\n'), r.map((x) => x.pol).join('\n')];
  const { rows } = await client.query<{ n: number }>(`SELECT x.n FROM (${keys}) x WHERE NOT ${PRESENT[k]} ORDER BY x.n`, values);
  return { inserted, orphans: rows.map((row) => row.n) };
}

/** Line numbers of the batch's records that exist with other content (kept as they are). */
export async function differingLines(client: pg.PoolClient, batch: Batch): Promise<number[]> {
  const { table, condition } = DIFFERS[batch.kind];
  const { rows } = await client.query<{ n: number }>(
    `SELECT i.n FROM (${INPUT[batch.kind]}) i JOIN ${table} t ON t.id = i.id WHERE ${condition} ORDER BY i.n`, params(batch));
  return rows.map((r) => r.n);
}
