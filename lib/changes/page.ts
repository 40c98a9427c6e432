// Writing changes with their documents (include_docs) to a response as the documents are
// read: a group at a time (a quarter of CHANGES_PAGE_BYTES, docs.ts), waiting for the
// socket to drain before the next group, and ending the page once CHANGES_PAGE_BYTES are
// written. So a page of a thousand changes of one big record costs the worker one group
// of documents, never a thousand copies in one string (finding 2 of issue 20). A page
// with documents is a listing to the worker's gate (LISTINGS_PER_WORKER, per account, per
// address), which bounds how many are written at once: docs/relay.md states the bound.
import type { ServerResponse } from 'node:http';
import type { ChangeRow, ChangePage, Db } from './reader.js';
import { CHANGE_BYTES, readDocGroup } from './docs.js';
import { changeJson, pageEnd, PAGE_START } from './format.js';
import type { Release } from '../http/gate.js';
import { errors } from '../http/errors.js';
import { whenAborted } from '../http/departure.js';
import { drained } from '../http/drain.js';

export interface DocsOptions {
  /** Where documents are read. */
  db: Db;
  /** Bytes after which the write ends (after one change at least): CHANGES_PAGE_BYTES for a page, Infinity for a stream. */
  maxBytes: number;
  /** Bytes of documents one read fetches at most (plus one document): groupBytes(CHANGES_PAGE_BYTES). */
  group: number;
  /** Milliseconds the socket may stay full before the response is given up (LISTING_IDLE_TIMEOUT). */
  idleMs: number;
  /** Asked after each group is read and before it is written: false throws RIGHTS_REVOKED. */
  allowed?: () => Promise<boolean>;
  /** Asked before each group is written: true ends the write (the stream ended, or its client is too slow and is dropped). */
  stop?: () => boolean;
  /** A live stream's: write whatever the socket's state (stop() then drops a slow client) instead of waiting for it to drain. */
  noWait?: boolean;
}

/** Bytes of documents one read fetches at most (plus one document): a quarter of a page. */
export function groupBytes(pageBytes: number): number {
  return Math.max(CHANGE_BYTES + 1, Math.floor(pageBytes / 4));
}

/**
 * Writes `text(row, doc, i)` for the first rows that fit `opts.maxBytes` (at least one);
 * returns how many were written. A client that leaves, or does not read for `idleMs`,
 * ends it early (its response destroyed).
 */
export async function writeWithDocs(res: ServerResponse, rows: readonly ChangeRow[], text: (row: ChangeRow, doc: string | null, i: number) => string, opts: DocsOptions): Promise<number> {
  let written = 0;
  let n = 0;
  while (n < rows.length && written < opts.maxBytes) {
    const docs = await readDocGroup(opts.db, rows.slice(n), Math.min(opts.group, opts.maxBytes - written));
    if (opts.allowed && !(await opts.allowed())) throw errors.rightsRevoked();
    if (res.destroyed || opts.stop?.()) return n;
    let ok = true;
    for (const doc of docs) {
      const t = text(rows[n]!, doc, n);
      written += Buffer.byteLength(t);
      ok = res.write(t) && ok;
      n++;
    }
    if (!ok && !opts.noWait && (await drained(res, opts.idleMs)) !== true) { res.destroy(); return n; }
  }
  return n;
}

/**
 * Writes `page` as JSON, its documents read as it goes; the page ends at the byte bound,
 * resuming after its last change. Nothing is sent before the first group was read (and
 * allowed), so a refusal then is still a whole error response.
 */
export async function writePage(res: ServerResponse, page: ChangePage, opts: DocsOptions): Promise<void> {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  const n = await writeWithDocs(res, page.rows, (row, doc, i) => (i ? ',' : PAGE_START) + changeJson(row, doc), opts);
  if (res.destroyed) return;
  res.end((n ? '' : PAGE_START) + pageEnd(n < page.rows.length ? page.rows[n - 1]!.seq : page.lastSeq));
}

/**
 * Runs `write` holding a turn of the listing gate, given back when the response is done;
 * nothing when the client left while it waited. `admit` gives up when `left` (the
 * request's departure signal, lib/http/departure.ts) aborts.
 */
export async function withTurn(left: AbortSignal, admit: () => Promise<Release>, write: () => Promise<void>): Promise<void> {
  let release: Release;
  try {
    release = await admit();
  } catch (err) {
    if (left.aborted) return;
    throw err;
  }
  whenAborted(left, release);
  if (!left.aborted) await write();
}

