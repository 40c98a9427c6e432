// The principals this worker has verified: for credentials that passed the full path,
// what the decision relied on (the stored hash, the roles as stored). A later request
// with the same credentials is answered in one round trip, its statement guarded by
// exactly that state (guard.ts), so nothing is trusted that the database does not
// confirm on the way. Keyed by an HMAC of account and password, so memory holds no
// password; bounded (LRU) and short-lived like the credential cache.
import { createHmac, randomBytes } from 'node:crypto';
import type { Credentials } from './basic.js';
import type { Principal } from './authenticate.js';

export interface VerifiedPrincipal {
  principal: Principal;
  /** The stored hash the password was verified against. */
  hash: string;
  /** `data->'roles'` as stored, as JSON text. */
  rolesJson: string;
}

export interface PrincipalCache {
  get(creds: Credentials): VerifiedPrincipal | undefined;
  set(creds: Credentials, entry: VerifiedPrincipal): void;
  delete(creds: Credentials): void;
}

export function createPrincipalCache(maxEntries = 10_000, ttlMs = 5 * 60_000): PrincipalCache {
  const secret = randomBytes(32);
  const entries = new Map<string, { entry: VerifiedPrincipal; expires: number }>();
  const key = (c: Credentials) => createHmac('sha256', secret).update(c.account).update('\0').update(c.password).digest('base64');
  return {
    get(creds) {
      const k = key(creds);
      const found = entries.get(k);
      if (!found) return undefined;
      entries.delete(k);
      if (found.expires < Date.now()) return undefined;
      entries.set(k, found); // most recently used goes last
      return found.entry;
    },
    set(creds, entry) {
      if (maxEntries === 0) return;
      entries.set(key(creds), { entry, expires: Date.now() + ttlMs });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    delete(creds) {
      entries.delete(key(creds));
    },
  };
}
