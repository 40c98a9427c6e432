// feed=eventsource: Server-Sent Events. The follower joins the hub first, then catches
// up from the database page by page (waiting for the socket to drain between pages, so
// a slow reader only slows its own catch-up), then takes the live batches it queued
// meanwhile and after. A live batch is written whatever the socket's state; when more
// than CHANGES_SSE_BUFFER bytes still wait in this stream's buffer as the next batch (or
// group of documents) comes, the client is too slow: it gets a close event after what is
// buffered and is dropped, so it never holds back the others or grows memory. Heartbeat
// comments keep proxies from timing out.
//
// The stream holds a slot of the worker's (streams.ts) from its first line on, before
// anything is awaited, so a client that leaves at any moment gives it back. Before each
// delivery it asks whether the principal still stands as verified; when not (password,
// roles, active, lockout changed) it ends at once with a close event `revoked`, as it
// ends after CHANGES_STREAM_MAX_SECONDS with `lifetime`: a reconnect authenticates again.
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Hub, LiveBatch } from './hub.js';
import { positionNow, readPage, type ChangePage, type ChangeRow } from './reader.js';
import { matches, seesAll, type Filter } from './scope.js';
import { sseClose, sseEvent, sseEvents, sseHeartbeat, type CloseReason } from './format.js';
import { writeWithDocs, type DocsOptions } from './page.js';
import { drained } from '../http/drain.js';
import type { StreamOwner, Streams } from './streams.js';
import type { Release } from '../http/gate.js';
import { HttpError, errors } from '../http/errors.js';

export interface StreamOptions {
  filter: Filter;
  /** A sequence number, or 'now' (the reader's position, read once the stream holds its slot). */
  since: number | 'now';
  includeDocs: boolean;
  /** Rows per catch-up page. */
  pageSize: number;
  heartbeatMs: number;
  /** Bytes that may wait in the socket's buffer before the client is dropped. */
  bufferBytes: number;
  /** Live rows that may queue during catch-up before it starts over from the database. */
  maxQueued: number;
  /** CHANGES_STREAM_MAX_SECONDS; 0: no limit. */
  maxSeconds: number;
  /** How documents are read and written (include_docs); maxBytes is Infinity here. */
  docs: Omit<DocsOptions, 'allowed' | 'stop' | 'noWait'>;
  /** A turn of the listing gate, held while a stream with documents catches up; rejects when the client leaves. */
  admit(): Promise<Release>;
}

/** How long a dropped client gets to read its close event before its socket is destroyed. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Streams the changes after `opts.since`. An error before the first page (a 410, a full
 * worker, rights already gone) is thrown before any byte is sent; later ones end the
 * stream with a close event.
 */
export async function streamChanges(res: ServerResponse, pool: pg.Pool, hub: Hub, streams: Streams, owner: StreamOwner, opts: StreamOptions): Promise<void> {
  // The client left while the request was authenticated: there is nobody to follow for.
  if (res.destroyed) return;
  const { filter, includeDocs } = opts;
  /** What this reader may be told: a reader that does not see everything is never shown a seq past its own changes (reader.ts). */
  const hidden = !seesAll(filter.scope);
  let cursor = 0;
  /** The furthest position this reader may be shown: the cursor, or for `hidden` its last change or page position. */
  let visible = 0;
  /** The seq of the last event or heartbeat id sent. */
  let sentId = 0;
  let live = false;
  let resync = false;
  let queue: LiveBatch[] = [];
  let queued = 0;
  let chain: Promise<void> = Promise.resolve();
  let ended: CloseReason | 'gone' | undefined;
  let beat: NodeJS.Timeout | undefined;
  let turn: Release | undefined;
  let life: NodeJS.Timeout | undefined;
  let unfollow: () => void = () => undefined;

  const finish = (reason: CloseReason | 'gone', extra?: Record<string, unknown>) => {
    if (ended) return;
    ended = reason;
    clearInterval(beat);
    clearTimeout(life);
    unfollow();
    slot.release();
    turn?.();
    if (reason !== 'gone' && !res.destroyed && res.headersSent) {
      res.end(sseClose(reason, visible, extra));
      setTimeout(() => res.destroy(), CLOSE_GRACE_MS).unref();
    }
  };
  // Taken and listened for before anything is awaited: throws at once when the worker,
  // the account or the address holds all it may.
  const slot = streams.open(owner, () => finish('revoked'));
  res.once('close', () => finish('gone'));
  if (opts.maxSeconds > 0) life = setTimeout(() => finish('lifetime'), opts.maxSeconds * 1000);

  const fail = (err: unknown) => {
    if (err instanceof HttpError && err.status === 410) finish('expired');
    else if (err instanceof HttpError && err.code === 'RIGHTS_REVOKED') finish('revoked');
    else finish('error');
  };
  const overflowing = () => {
    if (res.writableLength > opts.bufferBytes) finish('overflow', { buffered: res.writableLength });
    return ended !== undefined;
  };
  const seen = (seq: number) => { sentId = Math.max(sentId, seq); visible = Math.max(visible, seq); };
  const docs = (following: boolean): DocsOptions => ({ ...opts.docs, allowed: slot.stands, noWait: following, stop: following ? overflowing : () => ended !== undefined });
  /** An event, noted as sent (it is written right after). */
  const event = (row: ChangeRow, doc: string | null) => { seen(row.seq); return sseEvent(row, doc); };

  const deliver = async (batch: LiveBatch) => {
    if (ended) return;
    const rows = batch.rows.filter((r) => r.seq > cursor && matches(filter, r));
    if (rows.length) {
      // Checked before writing, so one batch larger than the bound still goes to a
      // client that keeps up: what waits is at most the bound plus one batch (or group).
      if (overflowing()) return;
      if (includeDocs) {
        if ((await writeWithDocs(res, rows, event, docs(true))) < rows.length) return;
      } else {
        if (!(await slot.stands())) { finish('revoked'); return; }
        if (ended) return;
        res.write(sseEvents(rows));
        seen(rows[rows.length - 1]!.seq);
      }
    }
    cursor = Math.max(cursor, batch.last);
    if (!hidden) visible = cursor;
  };

  /** Writes a catch-up page; false when the stream ended meanwhile. */
  const writeCatchUp = async (page: ChangePage): Promise<boolean> => {
    if (includeDocs) {
      if ((await writeWithDocs(res, page.rows, event, docs(false))) < page.rows.length) return false;
    } else if (page.rows.length) {
      const wrote = res.write(sseEvents(page.rows));
      seen(page.rows[page.rows.length - 1]!.seq);
      // A client that reads nothing for LISTING_IDLE_TIMEOUT gives its slot back.
      if (!wrote && (await drained(res, opts.docs.idleMs)) !== true) finish('overflow', { buffered: res.writableLength });
    }
    cursor = page.lastSeq;
    visible = Math.max(visible, page.lastSeq);
    return !ended;
  };

  let page: ChangePage;
  try {
    if (includeDocs) {
      turn = await opts.admit();
      if (ended) turn();
    }
    const since = opts.since === 'now' ? await positionNow(pool, filter.scope) : opts.since;
    cursor = since;
    visible = since;
    sentId = since;
    // Joined before the first read: a row committed after it is in a batch, one
    // committed before it is in the pages.
    if (!ended) {
      unfollow = hub.follow({
        batch(b) {
          if (ended) return;
          if (live) { chain = chain.then(() => deliver(b)).catch(fail); return; }
          queue.push(b);
          queued += b.rows.length;
          // The catch-up is slower than the log grows: drop the queue and read on from the
          // database instead (it holds every row the queue held).
          if (queued > opts.maxQueued) { queue = []; queued = 0; resync = true; }
        },
        end: () => finish('shutdown'),
      });
    }
    page = await readPage(pool, filter, cursor, opts.pageSize);
    if (!ended && !(await slot.stands())) finish('revoked');
  } catch (err) {
    finish('gone');
    // A client that left while it waited for its turn has nobody to answer.
    if (res.destroyed) return;
    throw err;
  }
  // Ended before the first byte: the client left, its rights went, or the worker drains.
  if (ended) {
    if (res.destroyed || ended === 'gone') return;
    throw ended === 'revoked' ? errors.rightsRevoked() : errors.unavailable();
  }
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    // nginx would otherwise buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  beat = setInterval(() => {
    if (ended) return;
    res.write(sseHeartbeat(visible > sentId ? visible : undefined));
    sentId = Math.max(sentId, visible);
    // While catching up the stream waits for its socket instead (bounded by LISTING_IDLE_TIMEOUT).
    if (live) overflowing();
  }, opts.heartbeatMs);
  try {
    for (;;) {
      if (!(await writeCatchUp(page))) return;
      if (page.rows.length < opts.pageSize && !resync) break;
      if (page.rows.length < opts.pageSize) resync = false;
      page = await readPage(pool, filter, cursor, opts.pageSize);
      if (!ended && !(await slot.stands())) finish('revoked');
      if (ended) return;
    }
  } catch (err) {
    fail(err);
    return;
  }
  // Caught up: the documents of live batches are bounded by CHANGES_SSE_BUFFER instead.
  turn?.();
  turn = undefined;
  live = true;
  for (const b of queue) chain = chain.then(() => deliver(b)).catch(fail);
  queue = [];
}
