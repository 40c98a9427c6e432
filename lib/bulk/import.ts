// Import: NDJSON records (lib/bulk/kinds.ts) read line by line with bounded memory,
// checked as the API checks what it stores (validate.ts), and written in batches by
// multi-row INSERTs of the records whose id is not taken (insert.ts), so the same file
// imported twice changes nothing. While PostgreSQL writes one batch the next is read and
// checked. A bad line is reported with its number and skipped, or with `strict` stops
// the import. The whole import is one transaction: it lands whole, with one audit row
// holding its counts, or not at all (a strict stop, an error, Ctrl-C). Its change rows
// (the relay's log) are written set-based at its commit, not by a trigger per row
// (sql/022_bulk_changes.sql).
import type pg from 'pg';
import { auditInsert, type AuditSource } from '../audit/entry.js';
import sql from 'sql-template-tag';
import { BY_BULK, ownerColumn } from '../kinds/registry.js';
import { KIND_ORDER, type BulkKind } from './kinds.js';
import { readLines, MAX_LINE_BYTES } from './lines.js';
import { checkLine, type Rules } from './validate.js';
import { freshLines, insertBatch, differingLines, BULK_CHANGES, type Batch } from './insert.js';

export interface ImportOptions {
  rules: Rules;
  /** Stop at the first bad line, writing nothing. */
  strict?: boolean;
  /** Who imports, for the audit row. */
  audit: AuditSource;
  /** A line that was not imported, and why. */
  onSkip?: (line: number, why: string) => void;
  /** A record whose id exists with other content: the stored one is kept. */
  onKept?: (line: number, kind: BulkKind) => void;
  /** Called as lines are read, with the total so far. */
  onProgress?: (lines: number) => void;
  /** Records per statement (default 5,000) and text per batch (default 16 MiB). */
  batchRecords?: number;
  batchBytes?: number;
  maxLineBytes?: number;
}

export interface KindCounts {
  /** New records written. */
  inserted: number;
  /** Records whose id was there already, with the same content or (`differing`) not. */
  present: number;
  differing: number;
}

export interface ImportSummary {
  lines: number;
  skipped: number;
  kinds: Record<BulkKind, KindCounts>;
}

/** Someone else wrote a record of the file while it was imported; nothing was written. */
export class ImportRaced extends Error {}

/** A strict import met a bad line; nothing was written. */
export class ImportStopped extends Error {
  constructor(readonly line: number, why: string) {
    super(`line ${line}: ${why}`);
  }
}

/** Why a record whose person (a page) or page of that person (a document) is not there was skipped. */
function missingParent(kind: BulkKind): string {
  const row = BY_BULK[kind];
  const person = `person (${ownerColumn(row)})`;
  const parent = row.within ? `${row.within.bulk} (${row.within.column}) of that ${person}` : `${person}`;
  return `its ${parent} is not in the federation or earlier in the file`;
}

const zero = (): KindCounts => ({ inserted: 0, present: 0, differing: 0 });

export async function importNdjson(pool: pg.Pool, input: AsyncIterable<Buffer | string>, opts: ImportOptions): Promise<ImportSummary> {
  const maxRecords = opts.batchRecords ?? 5000;
  const maxBytes = opts.batchBytes ?? 16 * 1024 * 1024;
  const summary: ImportSummary = { lines: 0, skipped: 0, kinds: Object.fromEntries(KIND_ORDER.map((k) => [k, zero()])) as Record<BulkKind, KindCounts> };
  const skip = (line: number, why: string) => {
    if (opts.strict) throw new ImportStopped(line, why);
    summary.skipped++;
    opts.onSkip?.(line, why);
  };

  let batches = new Map<BulkKind, Batch>();
  let ids = new Map<BulkKind, Set<string>>();
  let records = 0;
  let bytes = 0;

  const client = await pool.connect();
  /** Writes the taken batches in KIND_ORDER: a page's person goes in before it. */
  const write = async (taken: Map<BulkKind, Batch>) => {
    for (const kind of KIND_ORDER) {
      const batch = taken.get(kind);
      if (!batch) continue;
      const counts = summary.kinds[kind];
      const fresh = await freshLines(client, batch);
      const present = batch.records.filter((r) => !fresh.has(r.n));
      if (fresh.size) {
        const { inserted, orphans } = await insertBatch(client, present.length ? { kind, records: batch.records.filter((r) => fresh.has(r.n)) } : batch);
        counts.inserted += inserted;
        const missing = missingParent(kind);
        for (const n of orphans) skip(n, `${kind} ${JSON.stringify(batch.records.find((r) => r.n === n)?.id)}: ${missing}`);
      }
      if (present.length) {
        counts.present += present.length;
        const differing = await differingLines(client, { kind, records: present });
        counts.differing += differing.length;
        for (const n of differing) opts.onKept?.(n, kind);
      }
    }
  };
  let pending: Promise<void> = Promise.resolve();
  const flush = async () => {
    const taken = batches;
    batches = new Map();
    ids = new Map();
    records = 0;
    bytes = 0;
    await pending;
    pending = write(taken);
    pending.catch(() => undefined); // awaited at the next flush or at the end
  };

  let done = false;
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL thalamus.bulk_import = 'on'`);
    await client.query(BULK_CHANGES);
    for await (const line of readLines(input, opts.maxLineBytes ?? MAX_LINE_BYTES)) {
      summary.lines = line.n;
      if (line.n % 1000 === 0) opts.onProgress?.(line.n);
      if ('problem' in line) { skip(line.n, line.problem); continue; }
      const rec = checkLine(line.text, opts.rules);
      if ('problem' in rec) { skip(line.n, rec.problem); continue; }
      // The same id twice in one batch would both look free and fail the insert: flush first.
      if (ids.get(rec.kind)?.has(rec.id)) await flush();
      let batch = batches.get(rec.kind);
      if (!batch) { batch = { kind: rec.kind, records: [] }; batches.set(rec.kind, batch); ids.set(rec.kind, new Set()); }
      rec.n = line.n;
      batch.records.push(rec);
      ids.get(rec.kind)!.add(rec.id);
      records++;
      bytes += line.bytes;
      if (records >= maxRecords || bytes >= maxBytes) await flush();
    }
    await flush();
    await pending;
    opts.onProgress?.(summary.lines);
    const detail: Record<string, unknown> = { lines: summary.lines, skipped: summary.skipped, strict: Boolean(opts.strict) };
    for (const kind of KIND_ORDER) {
      const c = summary.kinds[kind];
      if (c.inserted || c.present) detail[kind] = c;
    }
    const audit = auditInsert({ ...opts.audit, action: 'import', recordId: null, person: null, status: 200, detail }, sql`true`);
    await client.query(audit.text, audit.values);
    // Last before COMMIT: it takes the change log's writer lock, held until the commit ends.
    await client.query('SELECT changes_log_bulk()');
    await client.query('COMMIT');
    done = true;
    return summary;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new ImportRaced(`a record of the file was written by someone else during the import (${(err as Error).message})`);
    throw err;
  } finally {
    if (!done) {
      await pending.catch(() => undefined);
      await client.query('ROLLBACK').then(() => client.release(), () => client.release(true));
    } else {
      client.release();
    }
  }
}
