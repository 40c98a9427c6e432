// The current documents of changes (include_docs), read in groups bounded by bytes.
// PostgreSQL builds them one change after another and stops once the group passes its
// budget, so neither it nor the worker holds more than the budget plus one document,
// however many changes of one big record a page lists (each change carries its own
// copy of the document, as CouchDB clients expect). Documents are read through the
// same SQL as the records' own routes (kinds.ts), when sent.
import sql, { raw } from 'sql-template-tag';
import { DOC_SQL } from './kinds.js';
import type { ChangeRow, Db } from './reader.js';

/** What a change's own text adds to its document, counted against a budget. */
export const CHANGE_BYTES = 200;

/**
 * The documents of `rows[0..k)` in order (null for a record gone since), for the
 * smallest k whose changes and documents reach `budget` bytes, or all of them: at
 * least one.
 */
export async function readDocGroup(db: Db, rows: readonly ChangeRow[], budget: number): Promise<Array<string | null>> {
  if (!rows.length) return [];
  const q = sql`WITH RECURSIVE walk(n, doc, total) AS (
      SELECT 0, NULL::text, 0::bigint
      UNION ALL
      SELECT w.n + 1, d.doc, w.total + ${CHANGE_BYTES}::int + COALESCE(octet_length(d.doc), 4)
      FROM walk w
      CROSS JOIN LATERAL (SELECT (${rows.map((r) => r.kind)}::text[])[w.n + 1] AS kind, (${rows.map((r) => r.id)}::varchar[])[w.n + 1] AS id,
        (${rows.map((r) => r.person)}::varchar[])[w.n + 1] AS person) c
      CROSS JOIN LATERAL (SELECT ${raw(DOC_SQL)} AS doc) d
      WHERE w.n < ${rows.length}::int AND w.total < ${budget}::bigint)
    SELECT doc FROM walk WHERE n > 0 ORDER BY n`;
  const { rows: found } = await db.query<{ doc: string | null }>(q.text, q.values);
  return found.map((r) => r.doc);
}
