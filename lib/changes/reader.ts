// Reading the change log: one page after a sequence number, filtered by scope, with
// the head of the log read in the same statement (so one snapshot decides both), and
// the current documents of rows the live fan-out already holds. Because rows become
// visible in seq order (sql/020_changes.sql), "everything after `since`" is exact.
import type pg from 'pg';
import sql, { raw } from 'sql-template-tag';
import { errors } from '../http/errors.js';
import { DOC_SQL, type Kind } from './kinds.js';
import { filterSql, type Filter } from './scope.js';

export type Op = 'create' | 'update' | 'delete';

export interface ChangeRow {
  seq: number;
  kind: Kind;
  id: string;
  person: string | null;
  /** A document's page; null for other kinds. */
  page: string | null;
  op: Op;
  /** When it was committed, ISO 8601 UTC. */
  at: string;
}

export interface ChangePage {
  rows: ChangeRow[];
  /** Current documents by seq (include_docs), null for records gone since. */
  docs?: Map<number, string | null>;
  /** Resume from here: the last row when the page is full, else the head of the log. */
  lastSeq: number;
}

export type Db = pg.Pool | pg.ClientBase;

const AT = raw(`to_char(c.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
const COLUMNS = sql`c.seq, c.kind, c.id, c.person, c.page, c.op, ${AT} AS at`;

interface RawRow { seq: string | null; kind: Kind; id: string; person: string | null; page: string | null; op: Op; at: string; doc?: string | null }

export function toRow(r: RawRow): ChangeRow {
  return { seq: Number(r.seq), kind: r.kind, id: r.id, person: r.person, page: r.page, op: r.op, at: r.at };
}

/** The head (newest visible seq), how far retention purged, and the newest seq ever issued. */
const STATE = sql`SELECT GREATEST(COALESCE((SELECT max(seq) FROM changes), 0), p.purged_through) AS head, p.purged_through AS purged,
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM changes_seq_seq) AS issued
  FROM changes_state p`;

/** The newest visible seq: where `since=now` starts. */
export async function headSeq(db: Db): Promise<number> {
  const { rows } = await db.query<{ head: string }>(STATE.text, STATE.values);
  return Number(rows[0]?.head ?? 0);
}

/**
 * The changes after `since` that `filter` lets through, at most `limit`. A `since`
 * below what retention kept, or beyond anything this log issued (another database),
 * is a 410: the client must read the records in full again.
 */
export async function readPage(db: Db, filter: Filter, since: number, limit: number, includeDocs: boolean): Promise<ChangePage> {
  const doc = includeDocs ? sql`, ${raw(DOC_SQL)} AS doc` : sql``;
  const q = sql`SELECT s.head, s.purged, s.issued, c.* FROM (${STATE}) s
    LEFT JOIN LATERAL (SELECT ${COLUMNS}${doc} FROM changes c
      WHERE c.seq > ${since}::bigint AND ${filterSql(filter)} ORDER BY c.seq LIMIT ${limit}::int) c ON true`;
  const { rows } = await db.query<RawRow & { head: string; purged: string; issued: string }>(q.text, q.values);
  const state = rows[0]!;
  if (since < Number(state.purged)) throw errors.changesExpired(Number(state.purged), since);
  if (since > Number(state.issued)) throw errors.changesUnknown(Number(state.head), since);
  const found = rows.filter((r) => r.seq !== null);
  const page: ChangePage = {
    rows: found.map(toRow),
    lastSeq: found.length === limit ? Number(found[found.length - 1]!.seq) : Math.max(since, Number(state.head)),
  };
  if (includeDocs) page.docs = new Map(found.map((r) => [Number(r.seq), r.doc ?? null]));
  return page;
}

/** The current documents of rows already read (one statement for a whole live batch). */
export async function readDocs(db: Db, rows: readonly ChangeRow[]): Promise<Map<number, string | null>> {
  if (!rows.length) return new Map();
  const q = sql`SELECT c.seq, ${raw(DOC_SQL)} AS doc
    FROM unnest(${rows.map((r) => r.seq)}::bigint[], ${rows.map((r) => r.kind)}::text[], ${rows.map((r) => r.id)}::varchar[], ${rows.map((r) => r.person)}::varchar[])
      AS c(seq, kind, id, person)`;
  const { rows: found } = await db.query<{ seq: string; doc: string | null }>(q.text, q.values);
  return new Map(found.map((r) => [Number(r.seq), r.doc]));
}

/** The rows after `after`, unfiltered, for the live fan-out. */
export async function readAfter(db: Db, after: number, limit: number): Promise<ChangeRow[]> {
  const q = sql`SELECT ${COLUMNS} FROM changes c WHERE c.seq > ${after}::bigint ORDER BY c.seq LIMIT ${limit}::int`;
  const { rows } = await db.query<RawRow>(q.text, q.values);
  return rows.map(toRow);
}
