// Admission of requests whose bodies take memory: a worker reads at most so many at
// once, one account at most half of them, so that no client (however many connections
// it opens) can make a worker hold more than a stated bound. A request waiting for its
// turn is not read (TCP holds its bytes back); after `queueMs` it is answered 503 with
// Retry-After. Two are used (lib/app.ts): uploads (UPLOAD_CONCURRENCY; each about twice
// its size at the peak: the one buffer of its bytes, and their copy in the protocol
// message to PostgreSQL) and large JSON or form bodies (LARGE_BODIES, over LARGE_BODY bytes or of
// unknown length; smaller ones pass at once, a few hundred of them being bounded anyway).
import { Gate, type Release } from './gate.js';
import type { HttpError } from './errors.js';

export interface Admission {
  /** A turn for one request of `account`; rejects with the busy error after `queueMs`, or when `signal` aborts. */
  admit(account: string, signal?: AbortSignal): Promise<Release>;
}

const ADMITTED = 'admitted';

export function createAdmission(perWorker: number, queueMs: number, busy: (retryAfterSeconds: number) => HttpError): Admission {
  const perAccount = Math.max(1, Math.floor(perWorker / 2));
  const gate = new Gate((key) => (key === ADMITTED ? perWorker : perAccount));
  const onTimeout = () => busy(Math.max(1, Math.ceil(queueMs / 1000)));
  return { admit: (account, signal) => gate.acquire([ADMITTED, `a:${account}`], { timeoutMs: queueMs, onTimeout, signal }) };
}

/** Large JSON and form bodies a worker reads at once (an account half of them). */
export const LARGE_BODIES = 16;
/** A body declared larger than this, or sent without a length (chunked), is a large one. */
export const LARGE_BODY = 64 * 1024;

/** Whether the request's body needs a turn of the large-body admission. */
export function isLargeBody(headers: { 'content-length'?: string; 'transfer-encoding'?: string }): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const declared = Number(headers['content-length'] ?? 0);
  return !(declared <= LARGE_BODY);
}
