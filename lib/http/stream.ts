// Streaming a listing: rows come from a pg-cursor in batches and are written as one
// JSON array, reading no further while the socket is full. A client that goes away
// closes the cursor and gives the connection back at once.
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
}

/** A row whose `j` column is the JSON text of one element. */
interface JsonRow { j: string }

/** Waits for 'drain', or for the response to close. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Streams `sql` (which must select one text column `j`) as a JSON array. Errors before
 * the first byte are thrown to the caller; later ones end the response abruptly, so a
 * client never takes a truncated array for a complete one.
 */
export async function streamRows(res: ServerResponse, pool: Pool, sql: string, params: unknown[], opts: StreamOptions = {}): Promise<void> {
  const batch = opts.batch ?? 500;
  const client: PoolClient = await pool.connect();
  let released = false;
  const release = (err?: Error) => { if (!released) { released = true; client.release(err ?? undefined); } };
  let cursor: Cursor<JsonRow> | undefined;
  let closed = false;
  const onClose = () => { closed = true; };
  res.on('close', onClose);
  try {
    if (opts.timeout) void client.query(`SET statement_timeout = ${Math.floor(opts.timeout)}`).catch(() => undefined);
    cursor = client.query(new Cursor<JsonRow>(sql, params));
    let rows = await cursor.read(batch);
    res.statusCode = 200;
    for (const [k, v] of Object.entries(opts.headers ?? {})) res.setHeader(k, v);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    const open = opts.legacyRowArrays ? '[' : '';
    const close = opts.legacyRowArrays ? ']' : '';
    let first = true;
    let out = '[';
    for (;;) {
      for (const row of rows) {
        out += (first ? '' : ',') + open + row.j + close;
        first = false;
      }
      if (closed) break;
      if (rows.length < batch) { res.end(out + ']'); break; }
      const more = cursor.read(batch);
      if (!res.write(out)) await drained(res);
      out = '';
      rows = await more;
      if (closed) break;
    }
  } catch (err) {
    release(err as Error);
    if (res.headersSent) { res.destroy(); return; }
    throw err;
  } finally {
    res.off('close', onClose);
    if (!released) {
      const c = cursor;
      try {
        if (c) await c.close();
        if (opts.timeout) await client.query('RESET statement_timeout');
        release();
      } catch (err) {
        release(err as Error);
      }
    }
  }
}
