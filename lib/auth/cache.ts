// The credential cache: what this worker verified. After one successful hash
// verification, the credentials' entry holds the principal and the stored state the
// decision relied on (verified.ts). A later request with the same credentials skips the
// hash on the full path when the stored hash is still the entry's, and is answered in one
// round trip when its route is guarded (admit.ts): its statement checks exactly that
// state in the database (guard.ts), so nothing is trusted that the database does not
// confirm on the way. The key is an HMAC over account and password, computed once per
// request, so nothing in memory reveals a password. Failures are never cached. Bounded
// (LRU); an entry lives `ttlMs` from its hash's verification. Concurrent requests with
// the same credentials and stored hash share one verification, so a burst of logins
// (50 clients starting at once) costs one hash, not fifty.
import { createHmac, randomBytes } from 'node:crypto';
import type { Verified } from './verified.js';

export interface CredentialCache {
  /** The credentials' key: an HMAC of account and password. */
  keyOf(account: string, password: string): string;
  /** The entry under `key`, unless it expired; it becomes the most recently used. */
  get(key: string): Verified | undefined;
  /**
   * Stores what the full path concluded. An entry for the same stored hash keeps its
   * expiry (the hash was not run again); another hash starts a new one.
   */
  set(key: string, verified: Verified): void;
  delete(key: string): void;
  /**
   * Runs `verify` once for concurrent calls with the same key and stored hash; all of
   * them get its result, and `leader` says which call ran it. Nothing is kept once it
   * settles.
   */
  verifyOnce<T>(key: string, storedHash: string, verify: () => Promise<T>): Promise<{ value: T; leader: boolean }>;
  readonly size: number;
}

interface Entry { verified: Verified; expires: number }

export function createCredentialCache(maxEntries = 10_000, ttlMs = 5 * 60_000): CredentialCache {
  const secret = randomBytes(32);
  const entries = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<unknown>>();
  return {
    keyOf: (account, password) => createHmac('sha256', secret).update(account).update('\0').update(password).digest('base64'),
    get(key) {
      const found = entries.get(key);
      if (!found) return undefined;
      entries.delete(key);
      if (found.expires < Date.now()) return undefined;
      entries.set(key, found); // most recently used goes last
      return found.verified;
    },
    set(key, verified) {
      if (maxEntries === 0) return;
      const old = entries.get(key);
      const expires = old && old.verified.hash === verified.hash ? old.expires : Date.now() + ttlMs;
      entries.delete(key);
      entries.set(key, { verified, expires });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    delete(key) {
      entries.delete(key);
    },
    async verifyOnce<T>(key: string, storedHash: string, verify: () => Promise<T>): Promise<{ value: T; leader: boolean }> {
      const k = `${key}\0${storedHash}`;
      const running = inFlight.get(k) as Promise<T> | undefined;
      if (running) return { value: await running, leader: false };
      const started = verify().finally(() => inFlight.delete(k));
      inFlight.set(k, started);
      return { value: await started, leader: true };
    },
    get size() { return entries.size; },
  };
}
