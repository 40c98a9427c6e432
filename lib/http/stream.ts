// Streaming a listing: rows come from a pg-cursor in batches and are written as one
// JSON array: one batch is fetched while the previous one is written, and nothing more
// is read while the socket is full. A client that goes away gives the connection back
// at once: when no cursor read is in flight the cursor is closed and the connection
// returned clean; when one is, the connection is destroyed instead (PostgreSQL then
// ends the query), since waiting for that read could take as long as the query itself.
import type { ServerResponse } from 'node:http';
import type { Pool, PoolClient } from 'pg';
import Cursor from 'pg-cursor';

export interface StreamOptions {
  /** Rows fetched per round trip. */
  batch?: number;
  /** Wrap each row as `[row]`, upstream 0.9.16's shape. */
  legacyRowArrays?: boolean;
  /** Statement timeout for this listing in ms (0: the connection's default). */
  timeout?: number;
  headers?: Record<string, string>;
  /** Called before anything is sent when there are no rows; may throw (a 404, say). */
  ifEmpty?: () => Promise<void>;
}

/** A row whose `j` column is the JSON text of one element. */
interface JsonRow { j: string }

const GONE = Symbol('gone');

/**
 * Settles with `work`'s result, or with GONE as soon as the response closes. A fresh
 * 'close' listener per wait, removed after: racing one long-lived promise instead would
 * keep every settled batch reachable until the stream ends.
 */
function unlessClosed<T>(res: ServerResponse, work: (done: (value: T) => void, fail: (err: unknown) => void) => void): Promise<T | typeof GONE> {
  if (res.destroyed) return Promise.resolve(GONE);
  return new Promise((resolve, reject) => {
    const onClose = () => resolve(GONE);
    res.once('close', onClose);
    work((value) => { res.off('close', onClose); resolve(value); }, (err) => { res.off('close', onClose); reject(err); });
  });
}

/** Waits for 'drain', or for the response to close. */
function drained(res: ServerResponse): Promise<unknown> {
  let onDrain: (() => void) | undefined;
  return unlessClosed<void>(res, (done) => { onDrain = () => done(); res.once('drain', onDrain); })
    .finally(() => { if (onDrain) res.off('drain', onDrain); });
}

/** A cursor read, or GONE when the client leaves first (the read is then abandoned). */
function readOrGone(cursor: Cursor<JsonRow>, batch: number, res: ServerResponse): Promise<JsonRow[] | typeof GONE> {
  return unlessClosed<JsonRow[]>(res, (done, fail) => { cursor.read(batch).then(done, fail); });
}

/**
 * The listing timeout a connection was left with. When the pool sets no statement
 * timeout of its own, the listing's is left in place (it only bounds what was unbounded)
 * and set once per connection, saving two round trips per listing; otherwise it is set
 * and reset around each listing.
 */
const timeoutSet = new WeakMap<PoolClient, number>();

function poolTimeout(pool: Pool): number {
  return Number((pool as unknown as { options?: { statement_timeout?: number } }).options?.statement_timeout ?? 0);
}

/**
 * Streams `sql` (which must select one text column `j`) as a JSON array. Errors before
 * the first byte are thrown to the caller; later ones end the response abruptly, so a
 * client never takes a truncated array for a complete one.
 */
export async function streamRows(res: ServerResponse, pool: Pool, sql: string, params: unknown[], opts: StreamOptions = {}): Promise<void> {
  const batch = opts.batch ?? 500;
  const timeout = Math.floor(opts.timeout ?? 0);
  const sticky = !poolTimeout(pool);
  const client: PoolClient = await pool.connect();
  let cursor: Cursor<JsonRow> | undefined;
  /** Whether the connection may hold an unfinished read or an error: destroy, not reuse. */
  let broken = false;
  let returned = false;
  try {
    if (res.destroyed) return;
    if (timeout > 0 && timeoutSet.get(client) !== timeout) {
      await client.query(`SET statement_timeout = ${timeout}`);
      if (sticky) timeoutSet.set(client, timeout);
    }
    cursor = client.query(new Cursor<JsonRow>(sql, params));
    let rows = await readOrGone(cursor, batch, res);
    if (rows === GONE) { broken = true; return; }
    if (rows.length === 0 && opts.ifEmpty) {
      // The connection goes back first: the check takes one of its own.
      returned = true;
      await finish(client, cursor, false, timeout > 0 && !sticky);
      await opts.ifEmpty();
    }
    res.statusCode = 200;
    for (const [k, v] of Object.entries(opts.headers ?? {})) res.setHeader(k, v);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    const open = opts.legacyRowArrays ? '[' : '';
    const close = opts.legacyRowArrays ? ']' : '';
    let any = false;
    let out = '[';
    const add = (batchRows: JsonRow[]) => {
      for (const row of batchRows) { out += (any ? ',' : '') + open + row.j + close; any = true; }
    };
    add(rows);
    for (;;) {
      if (rows.length < batch) { res.end(out + ']'); return; }
      // One batch is fetched while the last one is written, and no more: nothing further
      // is read until the socket has drained.
      const more = readOrGone(cursor, batch, res);
      more.catch(() => undefined); // a failed read is thrown below, once awaited; not unhandled meanwhile
      if (!res.write(out)) await drained(res);
      const next = await more;
      if (next === GONE) { broken = true; return; }
      if (res.destroyed) return;
      rows = next;
      out = '';
      add(rows);
    }
  } catch (err) {
    broken = !returned;
    if (res.headersSent) { res.destroy(); return; }
    throw err;
  } finally {
    if (!returned) await finish(client, cursor, broken, timeout > 0 && !sticky);
  }
}

/** Returns the connection: clean (cursor closed, timeout reset) or destroyed. */
async function finish(client: PoolClient, cursor: Cursor<JsonRow> | undefined, broken: boolean, reset: boolean): Promise<void> {
  if (broken) { client.release(true); return; }
  try {
    if (cursor) await cursor.close();
    if (reset) await client.query('RESET statement_timeout');
    client.release();
  } catch (err) {
    client.release(err as Error);
  }
}
