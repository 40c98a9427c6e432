// The verified-credential cache: after one successful hash verification, later
// requests with the same credentials skip the hash. The key is an HMAC over account,
// password and the stored hash, so a changed hash can never match an old entry, and
// nothing in memory reveals a password. Failures are never cached. Concurrent requests
// with the same credentials share one verification, so a burst of logins (50 clients
// starting at once) costs one hash, not fifty.
import { createHmac, randomBytes } from 'node:crypto';

export interface CredentialCache {
  has(account: string, password: string, storedHash: string): boolean;
  add(account: string, password: string, storedHash: string): void;
  /**
   * Runs `verify` once for concurrent calls with the same credentials and stored hash;
   * all of them get its result, and `leader` says which call ran it. Nothing is kept
   * once it settles.
   */
  verifyOnce<T>(account: string, password: string, storedHash: string, verify: () => Promise<T>): Promise<{ value: T; leader: boolean }>;
  readonly size: number;
}

export function createCredentialCache(maxEntries = 10_000, ttlMs = 5 * 60_000): CredentialCache {
  const secret = randomBytes(32);
  const entries = new Map<string, number>();
  const inFlight = new Map<string, Promise<unknown>>();
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
    async verifyOnce<T>(a: string, p: string, h: string, verify: () => Promise<T>): Promise<{ value: T; leader: boolean }> {
      const k = key(a, p, h);
      const running = inFlight.get(k) as Promise<T> | undefined;
      if (running) return { value: await running, leader: false };
      const started = verify().finally(() => inFlight.delete(k));
      inFlight.set(k, started);
      return { value: await started, leader: true };
    },
    get size() { return entries.size; },
  };
}
