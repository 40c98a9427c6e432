// feed=eventsource: Server-Sent Events. The follower joins the hub first, then catches
// up from the database page by page (waiting for the socket to drain between pages, so
// a slow reader only slows its own catch-up), then takes the live batches it queued
// meanwhile and after. A live batch is written whatever the socket's state; when more
// than CHANGES_SSE_BUFFER bytes still wait in this stream's buffer as the next batch
// comes, the client is too slow: it gets a close event after what is buffered and is
// dropped, so it never holds back the others or grows memory. Heartbeat comments keep proxies from timing out.
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Hub, LiveBatch } from './hub.js';
import { readPage } from './reader.js';
import { matches, type Filter } from './scope.js';
import { sseClose, sseEvents, sseHeartbeat, type CloseReason } from './format.js';
import { HttpError, errors } from '../http/errors.js';

export interface StreamOptions {
  filter: Filter;
  since: number;
  includeDocs: boolean;
  /** Rows per catch-up page. */
  pageSize: number;
  heartbeatMs: number;
  /** Bytes that may wait in the socket's buffer before the client is dropped. */
  bufferBytes: number;
  /** Live rows that may queue during catch-up before it starts over from the database. */
  maxQueued: number;
}

/** How long a dropped client gets to read its close event before its socket is destroyed. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Streams the changes after `opts.since`. An error before the first page (a 410) is
 * thrown before any byte is sent; later ones end the stream with a close event.
 */
export async function streamChanges(res: ServerResponse, pool: pg.Pool, hub: Hub, opts: StreamOptions): Promise<void> {
  const { filter, includeDocs } = opts;
  let cursor = opts.since;
  /** The seq of the last event sent (heartbeats carry the cursor once it moved past it). */
  let sentId = opts.since;
  let live = false;
  let resync = false;
  let queue: LiveBatch[] = [];
  let queued = 0;
  let chain: Promise<void> = Promise.resolve();
  let done = false;
  let beat: NodeJS.Timeout | undefined;

  const finish = (reason: CloseReason | undefined, extra?: Record<string, unknown>) => {
    if (done) return;
    done = true;
    clearInterval(beat);
    unfollow();
    if (reason && !res.destroyed && res.headersSent) {
      res.end(sseClose(reason, cursor, extra));
      setTimeout(() => res.destroy(), CLOSE_GRACE_MS).unref();
    }
  };
  const fail = (err: unknown) => finish(err instanceof HttpError && err.status === 410 ? 'expired' : 'error');
  const overflowing = () => {
    if (res.writableLength > opts.bufferBytes) finish('overflow', { buffered: res.writableLength });
  };

  const deliver = async (batch: LiveBatch) => {
    if (done) return;
    const rows = batch.rows.filter((r) => r.seq > cursor && matches(filter, r));
    const docs = rows.length && includeDocs ? await batch.docs() : undefined;
    // Checked before writing, so one batch larger than the bound still goes to a
    // client that keeps up: what waits is at most the bound plus one batch.
    overflowing();
    if (done) return;
    if (rows.length) { res.write(sseEvents(rows, docs)); sentId = rows[rows.length - 1]!.seq; }
    cursor = Math.max(cursor, batch.last);
  };

  // Joined before the first read: a row committed after it is in a batch, one
  // committed before it is in the pages.
  const unfollow = hub.follow({
    batch(b) {
      if (done) return;
      if (live) { chain = chain.then(() => deliver(b)).catch(fail); return; }
      queue.push(b);
      queued += b.rows.length;
      // The catch-up is slower than the log grows: drop the queue and read on from the
      // database instead (it holds every row the queue held).
      if (queued > opts.maxQueued) { queue = []; queued = 0; resync = true; }
    },
    end: () => finish('shutdown'),
  });
  res.once('close', () => finish(undefined));

  let page;
  try {
    page = await readPage(pool, filter, cursor, opts.pageSize, includeDocs);
  } catch (err) {
    finish(undefined);
    throw err;
  }
  // Ended before the first byte: the worker is draining (or the client left).
  if (done) throw errors.unavailable();
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    // nginx would otherwise buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  beat = setInterval(() => {
    if (done) return;
    res.write(sseHeartbeat(cursor > sentId ? cursor : undefined));
    sentId = Math.max(sentId, cursor);
    overflowing();
  }, opts.heartbeatMs);
  try {
    for (;;) {
      if (page.rows.length) sentId = page.rows[page.rows.length - 1]!.seq;
      cursor = page.lastSeq;
      if (page.rows.length && !res.write(sseEvents(page.rows, page.docs))) await drained(res);
      if (done) return;
      if (page.rows.length < opts.pageSize && !resync) break;
      if (page.rows.length < opts.pageSize) resync = false;
      page = await readPage(pool, filter, cursor, opts.pageSize, includeDocs);
      if (done) return;
    }
  } catch (err) {
    fail(err);
    return;
  }
  live = true;
  for (const b of queue) chain = chain.then(() => deliver(b)).catch(fail);
  queue = [];
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.once('drain', done);
    res.once('close', done);
  });
}
