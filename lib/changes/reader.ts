// Reading the change log: one page after a sequence number, filtered by scope, with
// the head of the log and the reader's position read in the same statement (so one
// snapshot decides both). Because rows become visible in seq order
// (sql/020_changes.sql), "everything after `since`" is exact.
//
// Positions (finding 14 of issue 20): a reader whose scope shows every change is told
// the head of the log, as CouchDB does. Any other reader (an end user) is never told a
// seq it could not have read: its position is the newest change of its own scope (or
// the retention's purge point, which moves by age alone), so `last_seq`, `since=now`,
// a heartbeat's id and a 410's `newest_seq` stay put while others write. A `since`
// beyond that position is not one this reader was given: 410, as for another database.
import type pg from 'pg';
import sql, { join, raw, type Sql } from 'sql-template-tag';
import { errors } from '../http/errors.js';
import type { Kind } from './kinds.js';
import { filterSql, seesAll, type Filter, type Scope } from './scope.js';
import { CHANGE_BYTES, readDocGroup } from './docs.js';

/** CHANGES_PAGE_BYTES' default: a page with documents ends once it passes this. */
export const DEFAULT_PAGE_BYTES = 1024 * 1024;

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
  /**
   * Resume from here: the last row when the page is full (or ended at its byte bound),
   * else the reader's position (the head of the log for a reader that sees everything).
   */
  lastSeq: number;
}

export type Db = pg.Pool | pg.ClientBase;

const AT = raw(`to_char(c.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
const COLUMNS = sql`c.seq, c.kind, c.id, c.person, c.page, c.op, ${AT} AS at`;

interface RawRow { seq: string | null; kind: Kind; id: string; person: string | null; page: string | null; op: Op; at: string }

export function toRow(r: RawRow): ChangeRow {
  return { seq: Number(r.seq), kind: r.kind, id: r.id, person: r.person, page: r.page, op: r.op, at: r.at };
}

/** The head (newest visible seq), how far retention purged, and the newest seq ever issued. */
const STATE = sql`SELECT GREATEST(COALESCE((SELECT max(seq) FROM changes), 0), p.purged_through) AS head, p.purged_through AS purged,
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM changes_seq_seq) AS issued
  FROM changes_state p`;

/** The newest visible seq of the whole log (the hub's start, subscriptions). */
export async function headSeq(db: Db): Promise<number> {
  const { rows } = await db.query<{ head: string }>(STATE.text, STATE.values);
  return Number(rows[0]?.head ?? 0);
}

/**
 * The newest change `scope` may see, NULL when none: index lookups (changes_kind_idx per
 * kind seen in full, changes_person_idx for one's own).
 */
function newestInScope(scope: Scope): Sql {
  const parts: Sql[] = [];
  if (scope.all.length) {
    parts.push(sql`(SELECT max(m.seq) FROM unnest(${scope.all}::text[]) k(kind)
      CROSS JOIN LATERAL (SELECT max(seq) AS seq FROM changes WHERE kind = k.kind) m)`);
  }
  if (scope.own.length) parts.push(sql`(SELECT max(seq) FROM changes WHERE person = ${scope.self}::varchar AND kind = ANY(${scope.own}::text[]))`);
  return parts.length ? sql`GREATEST(${join(parts, ', ')})` : sql`NULL::bigint`;
}

/** The reader's position over the state `s` (STATE): the head, or its own newest change. */
function positionSql(scope: Scope): Sql {
  return seesAll(scope) ? sql`s.head` : sql`GREATEST(s.purged, COALESCE(${newestInScope(scope)}, 0))`;
}

/** Where `since=now` starts for a reader of `scope`. */
export async function positionNow(db: Db, scope: Scope): Promise<number> {
  const q = sql`SELECT ${positionSql(scope)} AS position FROM (${STATE}) s`;
  const { rows } = await db.query<{ position: string }>(q.text, q.values);
  return Number(rows[0]?.position ?? 0);
}

/**
 * The changes after `since` that `filter` lets through, at most `limit`. A `since`
 * below what retention kept, or beyond the reader's position (another database, or
 * another reader's position), is a 410: the client must read the records in full again.
 * With `includeDocs`, the page carries its documents and ends once they pass `maxBytes`
 * (a subscription's batch: one string, so bounded; the HTTP feeds write theirs as they
 * read them instead, page.ts).
 */
export async function readPage(db: Db, filter: Filter, since: number, limit: number, includeDocs = false, maxBytes = DEFAULT_PAGE_BYTES): Promise<ChangePage> {
  const q = sql`SELECT s.head, s.purged, s.issued, ${positionSql(filter.scope)} AS position, c.* FROM (${STATE}) s
    LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM changes c
      WHERE c.seq > ${since}::bigint AND ${filterSql(filter)} ORDER BY c.seq LIMIT ${limit}::int) c ON true`;
  const { rows } = await db.query<RawRow & { head: string; purged: string; issued: string; position: string }>(q.text, q.values);
  const state = rows[0]!;
  const position = Number(state.position);
  if (since < Number(state.purged)) throw errors.changesExpired(Number(state.purged), since);
  if (since > (seesAll(filter.scope) ? Number(state.issued) : position)) throw errors.changesUnknown(position, since);
  const found = rows.filter((r) => r.seq !== null);
  const page: ChangePage = {
    rows: found.map(toRow),
    lastSeq: found.length === limit ? Number(found[found.length - 1]!.seq) : Math.max(since, position),
  };
  return includeDocs ? withDocs(db, page, maxBytes) : page;
}

/** `page` with the documents of as many of its changes as fit `maxBytes` (at least one); a page cut short resumes after its last change. */
export async function withDocs(db: Db, page: ChangePage, maxBytes: number): Promise<ChangePage> {
  const docs = new Map<number, string | null>();
  let used = 0;
  let n = 0;
  while (n < page.rows.length && used < maxBytes) {
    const group = await readDocGroup(db, page.rows.slice(n), maxBytes - used);
    for (const doc of group) {
      docs.set(page.rows[n]!.seq, doc);
      used += CHANGE_BYTES + (doc === null ? 4 : Buffer.byteLength(doc));
      n++;
    }
  }
  if (n === page.rows.length) return { ...page, docs };
  return { rows: page.rows.slice(0, n), docs, lastSeq: page.rows[n - 1]!.seq };
}

/** The rows after `after`, unfiltered, for the live fan-out. */
export async function readAfter(db: Db, after: number, limit: number): Promise<ChangeRow[]> {
  const q = sql`SELECT ${COLUMNS} FROM changes c WHERE c.seq > ${after}::bigint ORDER BY c.seq LIMIT ${limit}::int`;
  const { rows } = await db.query<RawRow>(q.text, q.values);
  return rows.map(toRow);
}
