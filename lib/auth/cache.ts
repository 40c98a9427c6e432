// The verified-credential cache: after one successful hash verification, later
// requests with the same credentials skip the hash. The key is an HMAC over account,
// password and the stored hash, so a changed hash can never match an old entry, and
// nothing in memory reveals a password. Failures are never cached.
import { createHmac, randomBytes } from 'node:crypto';

export interface CredentialCache {
  has(account: string, password: string, storedHash: string): boolean;
  add(account: string, password: string, storedHash: string): void;
  readonly size: number;
}

export function createCredentialCache(maxEntries = 10_000, ttlMs = 5 * 60_000): CredentialCache {
  const secret = randomBytes(32);
  const entries = new Map<string, number>();
  const key = (a: string, p: string, h: string) =>
    createHmac('sha256', secret).update(a).update('\0').update(p).update('\0').update(h).digest('base64');
  return {
    has(a, p, h) {
      if (maxEntries === 0) return false;
      const k = key(a, p, h);
      const expires = entries.get(k);
      if (expires === undefined) return false;
      entries.delete(k);
      if (expires < Date.now()) return false;
      entries.set(k, expires); // most recently used goes last
      return true;
    },
    add(a, p, h) {
      if (maxEntries === 0) return;
      entries.set(key(a, p, h), Date.now() + ttlMs);
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    get size() { return entries.size; },
  };
}
