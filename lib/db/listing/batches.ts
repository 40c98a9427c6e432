// A listing read in batches bounded by rows and by size, over connections taken only
// while they are needed. Rows come in id order from a pg-cursor over the listing's SQL,
// in a read-only transaction of its own. `pause()` gives the connection back; the next
// read opens a new cursor after the last id delivered (keyset), so the caller still
// streams one listing and a pause costs one index lookup.
//
// Size: each read asks for as many rows as fit the target at the size of the largest
// row of the previous batch (the first read asks for FIRST_READ). A read whose rows pass twice
// the target (rows grew) is cut there by dropping its connection: PostgreSQL would send
// the rest of the read whatever we do, and they would all be held. So a batch never
// holds more than twice the target plus one row.
//
// A client that leaves (`signal`) frees the connection at once, whatever the reader is
// doing: opening (each step checks), reading (the connection is dropped), or between
// reads (the cursor is closed). A connection held longer than `timeout` (and a grace
// second, so that a statement running that long ends with PostgreSQL's own timeout
// first) is taken back by the reader itself: dropped, a read in flight failing with
// ConnectionHeldTooLong (QUERY_TIMEOUT to a client), a later read continuing on a new
// connection. A suspended cursor runs no statement, so statement_timeout alone would
// never end it.
//
// pg and pg-cursor are pinned to exact versions (package.json): this reader relies on their
// internals (the socket under a client, pg-cursor's 'row' event and a read left unsettled
// when its connection goes); test/pg-internals.test.ts fails when those change.
import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { Sql } from 'sql-template-tag';
import { checkout, connectionLost, type Checkout } from '../pool.js';
import { ConnectionHeldTooLong } from '../errors.js';

/** Gives back what was taken (a turn at the listing gate). */
export type Release = () => void;

/** One element of a listing: its id (the order and the resume point) and its JSON text. */
export interface Row { id: unknown; j: string }

export interface BatchOptions {
  /** Most rows per read. */
  rows: number;
  /** Target size of a batch, in characters of JSON text. */
  chars: number;
  /** Statement timeout of the listing's statements, and the longest a connection is held, in ms (0: no bound of its own). */
  timeout: number;
  /**
   * Let PostgreSQL sort when it thinks that cheaper. Off by default: the order then comes
   * from an index, so the first rows come at once and a resumed listing does not sort
   * again what is left.
   */
  sortable?: boolean;
  /** Takes a turn to hold a connection (`resume` after the first); released with it. */
  turn?: (resume: boolean) => Promise<Release>;
  /** The client left: no connection is taken any more, and reads fail with its reason. */
  signal?: AbortSignal;
  /** Start after this id (the first rows were read otherwise). */
  after?: unknown;
  /** The largest row seen before (in the first rows): sizes the first read. */
  largest?: number;
  /**
   * Where the listing goes on when its connection fails or cannot be made (a read
   * standby stopped): asked once, and the listing continues there after the last row
   * delivered, as after a pause.
   */
  fallback?: () => pg.Pool;
}

interface Session {
  out: Checkout;
  cursor: Cursor<Row>;
  turn: Release | undefined;
  /** Reads waiting now, failed when the session has been held past `timeout` (it is dropped then). */
  expiring: Set<(err: Error) => void>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Rows of the first read. One: its size sets the second read's count. More would save
 * that round trip on small listings, but a listing that starts with big rows would then
 * have its first read cut (a new connection each time) and the worker's peak memory
 * would vary more (measured: 22-45 MB instead of 28-30 MB in test/streaming-memory).
 */
const FIRST_READ = 1;

/** How long after `timeout` a held connection is taken back (see the top of this file). */
const EXPIRY_GRACE_MS = 1000;

export class BatchReader {
  /** True once every row has been delivered. */
  done = false;
  private session: Session | undefined;
  /** The last row delivered, where a new cursor continues. */
  private after: { id: unknown } | undefined;
  private count: number;
  private reading: Promise<unknown> | undefined;
  private sessions = 0;
  private pool: pg.Pool;
  private fallback: (() => pg.Pool) | undefined;
  /** The last open() failed to get a connection at all. */
  private connectFailed = false;

  private readonly sql: string;
  private readonly params: unknown[];

  constructor(pool: pg.Pool, statement: Sql, private readonly opts: BatchOptions) {
    this.sql = statement.text;
    this.params = statement.values;
    this.pool = pool;
    this.fallback = opts.fallback;
    this.count = Math.min(FIRST_READ, opts.rows);
    if (opts.after !== undefined) this.after = { id: opts.after };
    if (opts.largest) this.count = Math.max(1, Math.min(opts.rows, Math.floor(opts.chars / opts.largest)));
  }

  /** The next batch; [] once done. One at a time. */
  async next(): Promise<Row[]> {
    if (this.done) return [];
    const read = this.read();
    this.reading = read.catch(() => undefined);
    try {
      return await read;
    } finally {
      this.reading = undefined;
    }
  }

  /**
   * Gives the connection back, waiting for a read in flight and dropping its rows; the
   * next read continues after `after`, the id of the last row the caller kept.
   */
  async pause(after: unknown): Promise<void> {
    await this.reading;
    this.after = { id: after };
    this.done = false;
    await this.close();
  }

  /** The client left: the connection goes back clean, or is dropped if a read is in flight (one being opened checks the signal). */
  abort(): void {
    if (!this.session) return;
    if (this.reading) this.drop(true);
    else void this.close();
  }

  /** Moves to the fallback pool, once; false when there is none (left) or the client is gone. */
  private moveOn(): boolean {
    const next = this.fallback;
    if (!next || this.opts.signal?.aborted) return false;
    this.fallback = undefined;
    this.pool = next();
    return true;
  }

  private async read(): Promise<Row[]> {
    let s: Session;
    try {
      s = this.session ?? (this.session = await this.open());
    } catch (err) {
      if (this.connectFailed && this.moveOn()) return this.read();
      throw err;
    }
    if (this.opts.signal?.aborted) { this.drop(true); throw this.opts.signal.reason; }
    const want = this.count;
    const rows: Row[] = [];
    let chars = 0;
    let cut = false;
    // A cut read may never settle: the rest of its rows can already be in the parser's
    // buffer when the connection goes, and pg-cursor then calls back neither way.
    let onCut: () => void = () => undefined;
    const cutDone = new Promise<void>((resolve) => { onCut = resolve; });
    const onRow = (row: Row) => {
      rows.push(row);
      chars += row.j.length;
      if (!cut && chars > 2 * this.opts.chars && rows.length < want) {
        cut = true;
        s.out.client.connection.stream.destroy();
        onCut();
      }
    };
    // Fails this read if the session expires meanwhile. A promise per read, dropped after
    // it: racing one that lives as long as the session would keep every batch reachable.
    let expire: (err: Error) => void = () => undefined;
    const expired = new Promise<never>((_, reject) => { expire = reject; });
    expired.catch(() => undefined);
    s.expiring.add(expire);
    s.cursor.on('row', onRow);
    const read = s.cursor.read(want);
    read.catch(() => undefined); // once cut, its outcome no longer matters
    try {
      // The connection's failure too: a read pending when it went may never settle.
      await Promise.race([s.out.orFailure(read), cutDone, expired]);
    } catch (err) {
      if (!cut) {
        // The connection went (not the query failed): go on elsewhere, if we may.
        const lost = connectionLost(s.out, err);
        this.drop(true);
        if (lost && this.moveOn()) return this.read();
        throw err;
      }
    } finally {
      s.cursor.off('row', onRow);
      s.expiring.delete(expire);
    }
    if (cut) this.drop(true);
    // The last rows go to the client without waiting for the COMMIT.
    else if (rows.length < want) { this.done = true; void this.close(); }
    if (rows.length > 0) {
      this.after = { id: rows[rows.length - 1]!.id };
      let largest = 1;
      for (const r of rows) if (r.j.length > largest) largest = r.j.length;
      this.count = Math.max(1, Math.min(this.opts.rows, Math.floor(this.opts.chars / largest)));
    }
    return rows;
  }

  private async open(): Promise<Session> {
    const gone = () => this.opts.signal?.throwIfAborted();
    gone();
    const turn = await this.opts.turn?.(this.sessions++ > 0);
    let out: Checkout | undefined;
    try {
      gone();
      this.connectFailed = false;
      out = await checkout(this.pool).catch((err: unknown) => { this.connectFailed = true; throw err; });
      const settings = ['BEGIN READ ONLY'];
      if (!this.opts.sortable) settings.push('SET LOCAL enable_sort = off');
      if (this.opts.timeout > 0) settings.push(`SET LOCAL statement_timeout = ${Math.floor(this.opts.timeout)}`);
      await out.client.query(settings.join('; '));
      gone();
      const args = [...this.params];
      let resume = '';
      if (this.after) { args.push(this.after.id); resume = ` WHERE id > $${args.length}`; }
      const cursor = out.client.query(new Cursor<Row>(`SELECT id, j FROM (${this.sql}) s${resume} ORDER BY id`, args));
      const session: Session = { out, cursor, turn, expiring: new Set(), timer: undefined };
      if (this.opts.timeout > 0) {
        session.timer = setTimeout(() => {
          for (const expire of session.expiring) expire(new ConnectionHeldTooLong());
          if (this.session === session) this.drop(true);
        }, this.opts.timeout + EXPIRY_GRACE_MS);
      }
      return session;
    } catch (err) {
      out?.release(true);
      turn?.();
      throw err;
    }
  }

  /** Ends the session cleanly (cursor closed, transaction committed), or drops it on failure. */
  private async close(): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    clearTimeout(s.timer);
    try {
      // A cursor closed on a connection that went waits for a ReadyForQuery that never comes.
      await s.out.orFailure(s.cursor.close());
      await s.out.client.query('COMMIT');
      s.out.release();
    } catch {
      s.out.release(true);
    } finally {
      s.turn?.();
    }
  }

  private drop(discard: boolean): void {
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    clearTimeout(s.timer);
    s.out.release(discard);
    s.turn?.();
  }
}
