// The statements of an import, one per kind and batch. A batch travels as a few
// parameters (line numbers as int[], ids and lines each as one newline-joined text that
// PostgreSQL splits: no line or id holds a newline), is parsed by jsonb from the line's
// text, and goes in by INSERT ... ON CONFLICT (id) DO NOTHING: a record already there is
// left as it is, so the same file imported twice changes nothing. As the API does, the
// stored document is `data` with `id` (and a page's `book`) set from the record. Pages
// whose person and documents whose page is missing are not inserted but returned, so a
// foreign key never fails the batch.
import type pg from 'pg';
import type { BulkKind } from './kinds.js';
import type { CheckedRecord } from './validate.js';

export interface Batch { kind: BulkKind; records: Array<CheckedRecord & { n: number }> }

const SPLIT = (i: number) => `string_to_array($${i}::text, E'\\n')`;

/** Each kind's input rows: `n`, the ids, and `data`/`rec` as stored. */
const INPUT: Record<BulkKind, string> = {
  person: `SELECT u.n, u.id, (u.line::jsonb -> 'data') || jsonb_build_object('id', u.id) AS data
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}) AS u(n, id, line)`,
  unit: `SELECT u.n, u.id, (u.line::jsonb -> 'data') || jsonb_build_object('id', u.id) AS data
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}) AS u(n, id, line)`,
  institution: `SELECT u.n, u.id, (u.line::jsonb -> 'data') || jsonb_build_object('id', u.id) AS data
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}) AS u(n, id, line)`,
  page: `SELECT u.n, u.id, u.book, (u.line::jsonb -> 'data') || jsonb_build_object('id', u.id, 'book', u.book) AS data
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, ${SPLIT(4)}) AS u(n, id, line, book)`,
  document: `SELECT u.n, u.id, u.fedacct, u.pol, r.rec -> 'data' AS data, decode(r.rec ->> 'document', 'base64') AS document
    FROM unnest($1::int[], ${SPLIT(2)}, ${SPLIT(3)}, ${SPLIT(4)}, ${SPLIT(5)}) AS u(n, id, line, fedacct, pol), LATERAL (SELECT u.line::jsonb AS rec) r`,
};

/** Which input rows may go in (their person or page exists). */
const PRESENT: Record<BulkKind, string> = {
  person: 'true', unit: 'true', institution: 'true',
  page: 'EXISTS (SELECT 1 FROM people p WHERE p.id = i.book)',
  document: 'EXISTS (SELECT 1 FROM pols p WHERE p.id = i.pol AND p.book = i.fedacct)',
};

const INSERT: Record<BulkKind, string> = {
  person: 'INSERT INTO people (id, data) SELECT id, data FROM ok',
  unit: 'INSERT INTO dus (id, data) SELECT id, data FROM ok',
  institution: 'INSERT INTO institutions (id, data) SELECT id, data FROM ok',
  page: 'INSERT INTO pols (id, book, data) SELECT id, book, data FROM ok',
  document: 'INSERT INTO personal_docs (id, fedacct, pol, document, data) SELECT id, fedacct, pol, document, data FROM ok',
};

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
  const out: unknown[] = [r.map((x) => x.n), join((x) => x.id), join((x) => x.text)];
  if (batch.kind === 'page' || batch.kind === 'document') out.push(join((x) => x.owner!));
  if (batch.kind === 'document') out.push(join((x) => x.pol!));
  return out;
}

export interface BatchResult {
  inserted: number;
  /** Line numbers of records whose person (page) or page (document) is not there. */
  orphans: number[];
}

export async function insertBatch(client: pg.PoolClient, batch: Batch): Promise<BatchResult> {
  const k = batch.kind;
  const { rows } = await client.query<{ inserted: number; orphans: number[] }>(
    `WITH i AS (${INPUT[k]}), ok AS (SELECT * FROM i WHERE ${PRESENT[k]}), ins AS (${INSERT[k]} ON CONFLICT (id) DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM ins)::int AS inserted, ARRAY(SELECT n FROM i WHERE NOT EXISTS (SELECT 1 FROM ok WHERE ok.n = i.n) ORDER BY n) AS orphans`,
    params(batch));
  return rows[0]!;
}

/** Line numbers of the batch's records that exist with other content (kept as they are). */
export async function differingLines(client: pg.PoolClient, batch: Batch): Promise<number[]> {
  const { table, condition } = DIFFERS[batch.kind];
  const { rows } = await client.query<{ n: number }>(
    `WITH i AS (${INPUT[batch.kind]}) SELECT i.n FROM i JOIN ${table} t ON t.id = i.id WHERE ${condition} ORDER BY i.n`, params(batch));
  return rows.map((r) => r.n);
}
