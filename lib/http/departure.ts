// A client may leave at any moment: while its password is checked, while it waits for a
// turn, while a statement or a cursor runs, between two batches. Each request gets one
// departure, made before anything is awaited, whose signal aborts when its response
// closes (the client left, or the response ended); everything a request holds (a turn, a
// connection, a body slot) is given back on it, and every wait races it. A 'close'
// listener added after the fact would never fire, so a signal made late starts aborted
// when the response has closed already.
import type { ServerResponse } from 'node:http';

/** The client left before its response was done: there is nobody to answer. */
export class ClientLeft extends Error {
  constructor() {
    super('the client left');
  }
}

/**
 * The reason of every departure signal, so that what races one (the listing engine in
 * lib/db, which knows nothing of HTTP) rejects with a ClientLeft. One for all: a
 * departure is no failure to trace, and every response's close would otherwise make one.
 */
const LEFT = new ClientLeft();

/** Whether `res` has closed: its client left, or its answer was sent. */
const closed = (res: ServerResponse) => res.closed || res.destroyed;

/**
 * A request's departure: `aborted` tells whether its response has closed, and `signal`
 * is made when first asked for (what holds a turn, a connection or a body slot asks).
 * Most requests never ask: an AbortController, its 'close' listener and the abort event
 * on every response cost a read about 9 us of CPU and more garbage (bench/README).
 */
export class Departure {
  private controller?: AbortController;
  constructor(private readonly res: ServerResponse) {}

  get aborted(): boolean {
    return this.controller ? this.controller.signal.aborted : closed(this.res);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = this.controller = new AbortController();
      if (closed(this.res)) controller.abort(LEFT);
      else this.res.once('close', () => controller.abort(LEFT));
    }
    return this.controller.signal;
  }
}

/** A signal that aborts (with a ClientLeft) when `res` closes, at once if it has. */
export const departureOf = (res: ServerResponse): AbortSignal => new Departure(res).signal;

/** Calls `fn` once when `signal` aborts, at once if it has. */
export function whenAborted(signal: AbortSignal, fn: () => void): void {
  if (signal.aborted) fn();
  else signal.addEventListener('abort', fn, { once: true });
}

/**
 * `work`'s outcome, or a ClientLeft rejection as soon as `signal` aborts. `work` is
 * observed either way (its later failure is not an unhandled rejection), and the
 * listener goes once it settles, so a long-lived signal does not keep settled results.
 */
export function unlessLeft<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(new ClientLeft());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => { work.catch(() => undefined); reject(new ClientLeft()); };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}
