// Waiting for a response's socket to take more: what a listing and the change feed do
// when a write found it full.
import type { ServerResponse } from 'node:http';

/** The response closed (the client left) before it drained. */
export const GONE = Symbol('gone');
/** It stayed full for the time given. */
export const LATE = Symbol('late');

/** Waits for 'drain' (true), the response's close (GONE) or `ms` (LATE). */
export function drained(res: ServerResponse, ms: number): Promise<true | typeof GONE | typeof LATE> {
  if (res.destroyed) return Promise.resolve(GONE);
  return new Promise((resolve) => {
    const done = (v: true | typeof GONE | typeof LATE) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(v);
    };
    const onDrain = () => done(true);
    const onClose = () => done(GONE);
    const timer = setTimeout(() => done(LATE), Math.max(0, ms));
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
