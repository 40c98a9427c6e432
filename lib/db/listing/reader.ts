// The listing engine's reader: one listing's rows, in id order, from its statements
// (plan.ts): the first rows in one round trip when the source has a first statement
// (first.ts), the rest in batches from cursors (batches.ts), over connections taken only
// while they are needed, each under a turn (`turn`: the caller's gate, so listings never
// take more of the pool than their share). The caller writes the rows (lib/http/stream.ts)
// and says when to pause (its client is slow: the connection goes back, and the next
// batch continues after the last row it kept).
//
// The caller's client may leave at any moment, before the listing begins too: `signal`
// has then aborted. Every wait here races it (rejecting with its reason), and every
// promise left behind is observed, so a listing whose client left gives back its
// connection and its turns at once, whatever it was waiting for.
import { BatchReader, type BatchOptions, type Row } from './batches.js';
import { readFirstRows } from './first.js';
import type { ListingSource } from './plan.js';

export type ListingReaderOptions = Omit<BatchOptions, 'after' | 'largest' | 'sortable'>;

/** `work`'s outcome, or a rejection with `signal`'s reason as soon as it aborts; `work` is observed either way. */
function unlessAborted<T>(signal: AbortSignal | undefined, work: Promise<T>): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => { work.catch(() => undefined); reject(signal.reason); };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

export class ListingReader {
  private reader: BatchReader | undefined;

  constructor(private readonly source: ListingSource, private readonly opts: ListingReaderOptions) {}

  /** True once every row has been delivered. */
  get done(): boolean {
    return !this.reader || this.reader.done;
  }

  /**
   * The first batch ([] when the listing is empty). Errors here come before anything was
   * written: the turn's LISTINGS_BUSY, a database error, a failed guard (GuardFailed).
   */
  async first(): Promise<Row[]> {
    const { source, opts } = this;
    if (!source.first) {
      this.reader = this.readerAfter();
      return this.next();
    }
    // A turn like any cursor's. It goes back with the connection, when the statement
    // ends, even if the client left first.
    const turn = await opts.turn?.(false);
    const reading = readFirstRows(source.pool, source.first);
    if (turn) reading.then(turn, turn);
    const first = await unlessAborted(opts.signal, reading);
    if (first.complete) return first.rows;
    const rows = first.rows;
    let largest = Math.max(1, first.largest ?? 0);
    for (const r of rows) if (r.j.length > largest) largest = r.j.length;
    this.reader = this.readerAfter(rows[rows.length - 1]?.id, largest);
    // The first row was too large for the first statement: the cursor reads it.
    return rows.length === 0 ? this.next() : rows;
  }

  /** The next batch; [] once done. One at a time. */
  next(): Promise<Row[]> {
    return this.reader ? unlessAborted(this.opts.signal, this.reader.next()) : Promise.resolve([]);
  }

  /**
   * Gives the connection back (dropping the batch being read); the next batch continues
   * after `after`, the id of the last row the caller kept.
   */
  pause(after: unknown): Promise<void> {
    return this.reader ? unlessAborted(this.opts.signal, this.reader.pause(after)) : Promise.resolve();
  }

  /** The listing ends (its client left, or it was written): the connection goes back clean, or is dropped if a read is in flight. */
  abort(): void {
    this.reader?.abort();
  }

  private readerAfter(after?: unknown, largest?: number): BatchReader {
    return new BatchReader(this.source.pool, this.source.sql, { ...this.opts, sortable: this.source.sortable, after, largest });
  }
}
