// CSRF tokens for the password form. Browsers resend Basic credentials to any site's
// form, so a POST must carry a token this server signed (HMAC-SHA256 under SECRET_KEY)
// for the same signed-in account, the same target account and the target's password
// hash as it was stored when the form was issued, before its expiry. A change of that
// password spends every token issued before it. Stateless, so any worker or instance
// sharing SECRET_KEY accepts it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const CSRF_TTL_MS = 10 * 60_000;

export interface Csrf {
  /** A token for `principal` acting on `target` whose stored hash is `hash`, valid for CSRF_TTL_MS from `now`. */
  issue(principal: string, target: string, hash: string | null, now?: number): string;
  /** Whether `token` was issued for exactly this principal, target and stored hash and has not expired. */
  verify(token: unknown, principal: string, target: string, hash: string | null, now?: number): boolean;
}

const TOKEN = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{43})$/;

/**
 * `secret` is SECRET_KEY; empty gives a random key for this process only (tokens then
 * die with it, and processes that must accept each other's tokens need a shared key).
 */
export function createCsrf(secret: string): Csrf {
  // A key of its own, derived from SECRET_KEY, so CSRF MACs never collide with other uses of it.
  const key = secret === '' ? randomBytes(32) : createHmac('sha256', secret).update('thalamus csrf v1').digest();
  const mac = (principal: string, target: string, hash: string | null, expires: string, nonce: string) =>
    createHmac('sha256', key).update(`${principal}\0${target}\0${hash ?? ''}\0${expires}\0${nonce}`).digest();
  return {
    issue(principal, target, hash, now = Date.now()) {
      const expires = (now + CSRF_TTL_MS).toString(36);
      const nonce = randomBytes(9).toString('base64url');
      return `${expires}.${nonce}.${mac(principal, target, hash, expires, nonce).toString('base64url')}`;
    },
    verify(token, principal, target, hash, now = Date.now()) {
      if (typeof token !== 'string') return false;
      const m = TOKEN.exec(token);
      if (!m) return false;
      const [, expires, nonce, given] = m as unknown as [string, string, string, string];
      if (parseInt(expires, 36) <= now) return false;
      // Compared as text, so only the canonical encoding of the signature is accepted.
      const expected = Buffer.from(mac(principal, target, hash, expires, nonce).toString('base64url'));
      const actual = Buffer.from(given);
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    },
  };
}
