// What a worker allows its listings: how many may be open at once (in all, per account,
// per client address), how many may hold a database connection at once (the pool less a
// reserve, so logins and single-record reads always find one), and the time bounds of
// lib/http/stream.ts. One per worker, shared by all its listings.
import { Gate, type Release } from './gate.js';
import { errors } from './errors.js';

export interface ListingSettings {
  /** Listings open at once in the worker (streaming, or waiting on their client). */
  perWorker: number;
  perAccount: number;
  perAddress: number;
  /** Listings holding a pool connection at once: the pool size less the reserve. */
  connections: number;
  /** Milliseconds a listing waits for its turn before answering 503 LISTINGS_BUSY. */
  queueMs: number;
  /** Milliseconds a listing keeps its connection while its client's socket stays full. */
  stallMs: number;
  /** Milliseconds a client may read nothing before its listing's socket is destroyed. */
  idleMs: number;
  /** Target size of one batch, in characters of JSON text. */
  batchChars: number;
}

export interface Requester { account?: string; address?: string }

export interface ListingGate {
  readonly settings: ListingSettings;
  /** Listings open now, those holding a connection now, and those waiting for either. */
  stats(): { open: number; reading: number; queued: number };
  /** Admits one listing; rejects with LISTINGS_BUSY after `queueMs`. Release when its response is done. */
  admit(who: Requester, signal?: AbortSignal): Promise<Release>;
  /**
   * A turn to hold a connection. A listing resuming goes before new ones, and waits up
   * to `idleMs`; a new one up to `queueMs`.
   */
  connection(resume: boolean, signal?: AbortSignal): Promise<Release>;
}

const OPEN = 'open';
const READING = 'reading';

export function createListingGate(settings: ListingSettings): ListingGate {
  const gate = new Gate((key) => {
    if (key === OPEN) return settings.perWorker;
    if (key === READING) return settings.connections;
    return key.startsWith('a:') ? settings.perAccount : settings.perAddress;
  });
  const busy = () => errors.listingsBusy(Math.max(1, Math.ceil(settings.queueMs / 1000)));
  return {
    settings,
    stats: () => ({ open: gate.count(OPEN), reading: gate.count(READING), queued: gate.queued }),
    admit(who, signal) {
      const keys = [OPEN];
      if (who.account !== undefined) keys.push(`a:${who.account}`);
      if (who.address !== undefined) keys.push(`ip:${who.address}`);
      return gate.acquire(keys, { timeoutMs: settings.queueMs, onTimeout: busy, signal });
    },
    connection(resume, signal) {
      return gate.acquire([READING], { timeoutMs: resume ? settings.idleMs : settings.queueMs, onTimeout: busy, first: resume, signal });
    },
  };
}
