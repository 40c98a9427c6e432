// Streaming a listing as one JSON array (or NDJSON), in id order, from the listing engine
// (lib/db/listing): one batch is read while the previous one is written, and no more.
// What is here is the HTTP side: the format, backpressure on the response, the client's
// departure; the engine holds the cursors, transactions and connections.
//
// A slow client never holds a database connection past a bound: when its socket stays
// full for `stallMs`, the listing is paused (its connection goes back to the pool) and
// waits for 'drain' without one; it then takes a connection again (a turn at the listing
// gate first) and continues after the last id it sent. A client that reads nothing for
// `idleMs` has its socket destroyed. A client that leaves frees the connection at once:
// it goes back clean, or is dropped when a read is in flight (PostgreSQL then ends the
// query) rather than waited for. The listing keeps its place at the gate (one of the
// open listings of its account and address) until its response has been handed to the
// kernel, so the memory of unread responses is bounded too.
//
// The client may leave at any moment, before this is called too (during authentication,
// say): the request's departure signal (lib/http/departure.ts) is already aborted then.
// Every wait here and in the engine races it, and every promise left behind is
// observed, so a client that leaves gives back its connection and its turns at once,
// whatever it was waiting for.
import type { ServerResponse } from 'node:http';
import type { Pool } from 'pg';
import { ListingReader } from '../db/listing/reader.js';
import type { Row } from '../db/listing/batches.js';
import { sourceOf, type ListingPlan, type ListingSource } from '../db/listing/plan.js';
import type { Release } from './gate.js';
import type { ListingGate, ListingSettings, Requester } from './listings.js';
import { formatOf, type ListingFormat } from './shape.js';
import { ClientLeft, departureOf, unlessLeft } from './departure.js';
import { drained, GONE, LATE } from './drain.js';

export interface StreamOptions {
  /** Most rows per read. */
  batch?: number;
  /** How elements are written (lib/http/shape.ts); default: a JSON array of objects. */
  format?: ListingFormat;
  /** Statement timeout for this listing in ms (0: the connection's default). */
  timeout?: number;
  headers?: Record<string, string>;
  /** Called before anything is sent when there are no rows; may throw (a 404, say). */
  ifEmpty?: () => Promise<void>;
  /** The worker's listing gate; without one (tests), the listing is not limited. */
  gate?: ListingGate;
  /** Whose listing it is, for the gate's limits per account and address. */
  who?: Requester;
  /** HEAD: the status and headers once the listing is known to exist (ifEmpty), no rows. */
  head?: boolean;
  /** Where the listing goes on when its connection fails (see BatchOptions.fallback in lib/db/listing/batches.ts). */
  fallback?: () => Pool;
  /** Aborts when the client leaves (the request's, made before its first await); default: the response's close from now on. */
  signal?: AbortSignal;
}

/** The bounds of a listing without a gate. */
const UNGATED: Pick<ListingSettings, 'stallMs' | 'idleMs' | 'batchChars'> = { stallMs: 500, idleMs: 60_000, batchChars: 256 * 1024 };

/** Rows at least this long are written as they are, not joined: joining would copy them once more. */
const DIRECT_CHARS = 16 * 1024;

/** Releases `release` once the response is in the kernel's hands, destroying it if that takes over `ms`. */
function releaseWhenSent(res: ServerResponse, release: Release, ms: number): void {
  if (res.writableFinished || res.destroyed) { release(); return; }
  const done = () => { clearTimeout(timer); res.off('finish', done); res.off('close', done); release(); };
  const timer = setTimeout(() => res.destroy(), ms);
  res.once('finish', done);
  res.once('close', done);
}

/** Streams the listing `plan` describes, read from `pool` (see streamRows). */
export function streamPlan(res: ServerResponse, pool: Pool, plan: ListingPlan, opts: StreamOptions = {}): Promise<void> {
  return streamRows(res, sourceOf(pool, plan, (opts.gate?.settings ?? UNGATED).batchChars), opts);
}

/**
 * Streams a listing (`source`) in `opts.format`. Its first rows come from `source.first`
 * when given (one round trip, which may settle the whole listing), the rest from
 * cursors. Errors before the first byte are thrown to the caller (LISTINGS_BUSY, a
 * database error, a failed guard); later ones end the response abruptly, so a client
 * never takes a truncated array for a complete one.
 */
export async function streamRows(res: ServerResponse, source: ListingSource, opts: StreamOptions = {}): Promise<void> {
  const bounds = opts.gate?.settings ?? UNGATED;
  const gone = opts.signal ?? departureOf(res);
  const gate = opts.gate;
  const listing = new ListingReader(source, {
    rows: opts.batch ?? 500, chars: bounds.batchChars, timeout: opts.timeout ?? 0, fallback: opts.fallback,
    signal: gone, turn: gate && ((resume) => gate.connection(resume, gone)),
  });
  let admitted: Release | undefined;
  try {
    if (gate) admitted = await gate.admit(opts.who ?? {}, gone);
    let rows = await listing.first();
    if (rows.length === 0 && opts.ifEmpty) await unlessLeft(gone, opts.ifEmpty());
    if (opts.head) {
      res.statusCode = 200;
      for (const [k, v] of Object.entries(opts.headers ?? {})) res.setHeader(k, v);
      res.setHeader('Content-Type', (opts.format ?? formatOf('objects')).contentType);
      res.end();
      return;
    }
    res.statusCode = 200;
    for (const [k, v] of Object.entries(opts.headers ?? {})) res.setHeader(k, v);
    const format = opts.format ?? formatOf('objects');
    res.setHeader('Content-Type', format.contentType);
    const open = format.before;
    const close = format.after;
    let any = false;
    let last: unknown;
    /** Text not yet written: small rows are joined, and a listing of one batch is sent whole. */
    let tail = format.start;
    /** Adds a batch; false when a write of a big row found the socket full. */
    const add = (batch: Row[]): boolean => {
      let ok = true;
      for (const row of batch) {
        tail += (any ? format.separator : '') + open;
        any = true;
        if (row.j.length < DIRECT_CHARS) { tail += row.j + close; continue; }
        ok = res.write(tail) && ok;
        ok = res.write(row.j) && ok;
        tail = close;
      }
      if (batch.length) last = batch[batch.length - 1]!.id;
      return ok;
    };
    let ok = add(rows);
    for (;;) {
      if (listing.done) { res.end(tail + format.end); return; }
      let more: Promise<Row[]> | undefined = listing.next();
      more.catch(() => undefined); // a failed read is thrown below, once awaited; not unhandled meanwhile
      const wrote = tail === '' || res.write(tail);
      tail = '';
      if (!(ok && wrote)) {
        let waited = await drained(res, bounds.stallMs);
        if (waited === LATE) {
          // The client is slow: give the connection back (dropping the batch being read).
          await listing.pause(last);
          more = undefined;
          waited = await drained(res, bounds.idleMs - bounds.stallMs);
          if (waited === LATE) { res.destroy(); return; }
        }
        if (waited === GONE) return;
      }
      rows = await (more ?? listing.next());
      if (res.destroyed) return;
      ok = add(rows);
    }
  } catch (err) {
    // A client that left has nobody to answer.
    if (gone.aborted || err instanceof ClientLeft) return;
    if (res.headersSent) { res.destroy(); return; }
    throw err;
  } finally {
    listing.abort();
    if (admitted) releaseWhenSent(res, admitted, bounds.idleMs);
  }
}
