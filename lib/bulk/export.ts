// Export: the federation as NDJSON (lib/bulk/kinds.ts) written to any Writable, a file,
// stdout or an HTTP response. PostgreSQL builds each line (jsonb's text keeps every
// number exactly, and nothing is parsed in JavaScript); a cursor reads them in batches
// and nothing more is read while the destination is full, so memory stays flat
// whatever the size. All kinds are read in one REPEATABLE READ transaction: a snapshot
// in which every page's person and every document's page is there too. Password hashes
// are exported as stored: this is a root-only backup and migration format.
import type { Writable } from 'node:stream';
import type pg from 'pg';
import Cursor from 'pg-cursor';
import sql from 'sql-template-tag';
import { auditInsert, type AuditSource } from '../audit/entry.js';
import { checkout, type Checkout } from '../db/pool.js';
import { BY_BULK, columnsOf } from '../kinds/registry.js';
import { KIND_ORDER, TABLE, type BulkKind } from './kinds.js';

const DATA = `COALESCE(data, '{}'::jsonb)::text`;
const str = (column: string) => `COALESCE(to_json(${column})::text, 'null')`;
// encode() breaks base64 into lines of 76 characters; a record is one line.
const BASE64 = (column: string) => `COALESCE('"' || translate(encode(${column}, 'base64'), E'\\n', '') || '"', 'null')`;

/** The SQL of one kind's lines, as column `j`: its table's columns, in order, after its `kind`. */
function linesOf(kind: BulkKind): string {
  const row = BY_BULK[kind];
  const fields = columnsOf(row).map((c) => `',"${c}":' || ${c === 'data' ? DATA : c === row.bytes ? BASE64(c) : str(c)}`);
  return `'{"kind":"${kind}"' || ${fields.join(' || ')} || '}'`;
}
const LINES = Object.fromEntries(KIND_ORDER.map((k) => [k, linesOf(k)])) as Record<BulkKind, string>;

/** Rows per cursor read: documents carry their bytes, so fewer of them. */
const BATCH = (kind: BulkKind) => (BY_BULK[kind].bytes ? 8 : 2000);

export interface ExportOptions {
  kinds?: readonly BulkKind[];
  /** Called after each batch written, with the total of lines so far. */
  onProgress?: (lines: number) => void;
}

export type ExportCounts = Record<BulkKind, number>;

export class ExportAborted extends Error {}

/**
 * The destination, watched from the first line to the last: a destination that fails
 * or closes between two writes (EPIPE on a closed pipe) is noticed at the next one,
 * and its 'error' never goes unhandled.
 */
function watch(out: Writable) {
  let gone: ExportAborted | undefined;
  const wake = new Set<() => void>();
  const onError = (err: Error) => { gone ??= new ExportAborted(err.message); wake.forEach((w) => w()); };
  const onClose = () => { gone ??= new ExportAborted('the destination was closed'); wake.forEach((w) => w()); };
  out.on('error', onError);
  out.on('close', onClose);
  return {
    /** Writes `text`; resolves once the destination can take more. */
    async write(text: string): Promise<void> {
      if (!gone && (out.destroyed || out.writableEnded)) gone = new ExportAborted('the destination was closed');
      if (gone) throw gone;
      if (out.write(text)) return;
      await new Promise<void>((resolve) => {
        const done = () => { out.off('drain', done); wake.delete(done); resolve(); };
        out.on('drain', done);
        wake.add(done);
      });
      if (gone) throw gone;
    },
    stop(): void {
      out.off('error', onError);
      out.off('close', onClose);
    },
  };
}

/**
 * Writes the `kinds` (all by default) to `out`, in KIND_ORDER, one record a line, and
 * returns how many of each; `out` is not ended. Throws ExportAborted when `out` closes
 * early (a client gone, a closed pipe); the connection goes back to the pool clean.
 */
export async function exportNdjson(pool: pg.Pool, out: Writable, opts: ExportOptions = {}): Promise<ExportCounts> {
  const kinds = KIND_ORDER.filter((k) => (opts.kinds ?? KIND_ORDER).includes(k));
  const counts = Object.fromEntries(KIND_ORDER.map((k) => [k, 0])) as ExportCounts;
  let total = 0;
  const dest = watch(out);
  let session: Checkout;
  try {
    // Watched for the connection's errors (a server that stops mid-export must not end the process).
    session = await checkout(pool);
  } catch (err) {
    dest.stop();
    throw err;
  }
  const { client } = session;
  let cursor: Cursor<{ j: string }> | undefined;
  let broken = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const kind of kinds) {
      cursor = client.query(new Cursor<{ j: string }>(`SELECT ${LINES[kind]} AS j FROM ${TABLE[kind]}`));
      for (;;) {
        // A read pending when the connection goes may never settle on its own.
        const rows = await session.orFailure(cursor.read(BATCH(kind)));
        if (rows.length === 0) break;
        let text = '';
        for (const row of rows) text += row.j + '\n';
        await dest.write(text);
        counts[kind] += rows.length;
        total += rows.length;
        opts.onProgress?.(total);
      }
      await session.orFailure(cursor.close());
      cursor = undefined;
    }
    await client.query('COMMIT');
    return counts;
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    dest.stop();
    if (broken) {
      // An open cursor or an aborted transaction: close both, or drop the connection.
      try {
        if (cursor) await session.orFailure(cursor.close());
        await client.query('ROLLBACK');
        session.release();
      } catch {
        session.release(true);
      }
    } else {
      session.release();
    }
  }
}

/**
 * The audit row of an export made outside a request (the CLI), written before the first
 * line leaves: an export cut short has still left its trace. (Requests to GET /export
 * are audited when they end, as every read is: the route's `audit` in lib/routes.ts,
 * written by lib/audit/log.ts.)
 */
export async function auditExport(pool: pg.Pool, source: AuditSource, kinds: readonly BulkKind[]): Promise<void> {
  const statement = auditInsert({ ...source, action: 'export', recordId: null, person: null, status: 200, detail: { kinds } }, sql`true`);
  await pool.query(statement.text, statement.values);
}
