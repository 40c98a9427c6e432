// The worker's one LISTEN connection: every committed change NOTIFYs `thalamus_changes`
// (sql/020_changes.sql), the hub reads the new rows once, on that same connection, and
// hands the batch to every longpoll, SSE stream and deliverer of this worker. Followers
// hold no database connection while they wait, and the database sees one reader per
// worker however many clients follow. A lost connection is re-made with backoff and
// the hub reads on from where it was, so nothing committed meanwhile is missed.
import type pg from 'pg';
import { newClient } from '../db/target.js';
import type { Logger } from '../log.js';
import { headSeq, readAfter, type ChangeRow } from './reader.js';
import { createRerun } from '../tasks.js';

export interface LiveBatch {
  /** Consecutive rows of the log, in seq order. */
  rows: readonly ChangeRow[];
  /** The hub's head after this batch: every row up to it has been handed out. */
  last: number;
}

export interface Follower {
  /** Called synchronously for each batch; must only queue work. */
  batch(b: LiveBatch): void;
  /** The hub is closing (worker shutdown). */
  end(): void;
  /**
   * Nothing waits on this follower now (a deliverer holding no subscription): when every
   * follower says so, reads under a stream of commits come IDLE_READ_INTERVAL_MS apart
   * instead of BUSY_READ_INTERVAL_MS. Absent: always waited on.
   */
  idle?(): boolean;
}

export interface Hub {
  /** Seq of the last row handed out (0 until the first read). */
  head(): number;
  /** Adds a follower; returns the function that removes it. */
  follow(f: Follower): () => void;
  /** Number of followers now. */
  size(): number;
  /** Reads new rows now (a notification may be folded into one already in flight). */
  poke(): void;
  /** Resolves once LISTEN is in place and the head is known. */
  ready: Promise<void>;
  /** Ends every follower, then the connection. */
  close(): Promise<void>;
}

export interface HubOptions {
  databaseUrl: string;
  log: Logger;
  /** Rows per read. */
  batch: number;
  /** A read also runs this often, should a notification ever be lost. */
  pollMs: number;
}

const CHANNEL = 'thalamus_changes';
/**
 * Under a stream of commits (one notification each), reads follow each other at least
 * this far apart, so one read takes many rows: a few ms of latency instead of one
 * query per commit per worker. A notification after a quiet spell is read at once.
 */
const BUSY_READ_INTERVAL_MS = 5;
/**
 * The same when no follower waits: the hub still reads every row in order (its head
 * stays current for the next follower) but a worker writing hundreds of pages a second
 * no longer spends a fifth of a core re-reading them for nobody (measured in `npm run
 * bench`, scenario (b)). A follower that arrives cuts the wait short.
 */
const IDLE_READ_INTERVAL_MS = 200;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

export function createHub(opts: HubOptions): Hub {
  const followers = new Set<Follower>();
  let client: pg.Client | undefined;
  let head = 0;
  let known = false;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let retryTimer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  let wake: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });

  const emit = (rows: ChangeRow[]) => {
    // Documents (include_docs) are each follower's to read, in groups bounded by bytes (page.ts).
    const batch: LiveBatch = { rows, last: rows[rows.length - 1]!.seq };
    for (const f of followers) {
      try {
        f.batch(batch);
      } catch (err) {
        opts.log.error({ err }, 'a change follower failed');
      }
    }
  };

  /** Reads every row after the head; asked while it reads, it reads again after a pause(). */
  async function readRows(): Promise<void> {
    const c = client;
    if (!c || !known) return;
    try {
      for (;;) {
        const rows = await readAfter(c, head, opts.batch);
        if (!rows.length || closed) break;
        head = rows[rows.length - 1]!.seq;
        emit(rows);
        if (rows.length < opts.batch) break;
      }
    } catch (err) {
      if (!closed) { opts.log.warn({ err }, 'reading the change log failed; reconnecting'); lost(c); }
    }
  }
  const reader = createRerun(readRows, { stop: () => closed, pause });
  const read = () => { void reader.request(); };

  /** The wait between reads under a stream of commits; wake() ends it. */
  function pause(): Promise<void> {
    let waited = false;
    for (const f of followers) if (!f.idle?.()) { waited = true; break; }
    return new Promise((resolve) => {
      const timer = setTimeout(done, waited ? BUSY_READ_INTERVAL_MS : IDLE_READ_INTERVAL_MS);
      function done() { clearTimeout(timer); wake = () => undefined; resolve(); }
      wake = done;
    });
  }

  function lost(c: pg.Client): void {
    if (client !== c) return;
    client = undefined;
    c.removeAllListeners('notification');
    c.end().catch(() => undefined);
    if (closed) return;
    retryTimer = setTimeout(() => void connect(), retryMs);
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  }

  async function connect(): Promise<void> {
    const c = newClient(opts.databaseUrl, { application_name: 'thalamus-listen' });
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    c.on('notification', read);
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      // Read after LISTEN: whatever commits from now on notifies, whatever committed
      // before is at or below this head (or is read from the previous head on).
      if (!known) { head = await headSeq(c); known = true; }
      retryMs = RETRY_MIN_MS;
      markReady();
      read();
    } catch (err) {
      if (!closed) opts.log.warn({ err }, 'the change listener could not connect; retrying');
      lost(c);
    }
  }

  void connect();
  const poll = setInterval(read, opts.pollMs);
  poll.unref();

  return {
    head: () => head,
    follow(f) {
      // A follower arriving while the worker drains is ended at once.
      if (closed) { queueMicrotask(() => f.end()); return () => undefined; }
      followers.add(f);
      if (!f.idle?.()) wake();
      return () => { followers.delete(f); };
    },
    size: () => followers.size,
    poke: () => { wake(); read(); },
    ready,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(poll);
      clearTimeout(retryTimer);
      wake();
      for (const f of [...followers]) f.end();
      followers.clear();
      const c = client;
      client = undefined;
      markReady();
      if (c) {
        c.removeAllListeners();
        c.on('error', () => undefined);
        await c.end().catch(() => undefined);
      }
    },
  };
}
