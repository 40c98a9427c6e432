// The password policy, shared by the API and the password form.
import { errors } from '../http/errors.js';
import { hashPassword, isPasswordHash, premadeHashProblem } from './passwords.js';

/** NIST SP 800-63B's minimum; PASSWORD_MIN_LENGTH changes it. */
export const DEFAULT_MIN_PASSWORD_CHARS = 8;
export const MAX_PASSWORD_BYTES = 1024;

let minChars = DEFAULT_MIN_PASSWORD_CHARS;

/** Sets PASSWORD_MIN_LENGTH. */
export function setPasswordMinLength(n: number): void {
  minChars = n;
}

export function passwordMinLength(): number {
  return minChars;
}

/** Throws a 400 naming what is wrong with a new plain-text password. */
export function checkNewPassword(plain: string): void {
  if ([...plain].length < minChars) throw errors.badPassword(`The password must have at least ${minChars} characters`);
  if (Buffer.byteLength(plain) > MAX_PASSWORD_BYTES) throw errors.badPassword(`The password must not exceed ${MAX_PASSWORD_BYTES} bytes`);
}

/**
 * The value to store for a password sent in a body: plain text is checked and hashed;
 * null removes the password (the person can then not log in); a bcrypt or argon2 hash
 * is kept as is only from an account administrator (`mayStoreHash`, the ACL name
 * `roles`) and only within the configured cost bounds, since every later login of the
 * account runs it.
 */
export async function storedPassword(value: unknown, mayStoreHash: boolean): Promise<string | null> {
  if (value === null) return null;
  if (typeof value !== 'string') throw errors.badPassword('The password must be a string');
  if (isPasswordHash(value)) {
    if (!mayStoreHash) throw errors.premadeHashForbidden();
    const problem = premadeHashProblem(value);
    if (problem) throw errors.badPassword(`The password hash is outside the accepted bounds: ${problem}`);
    return value;
  }
  checkNewPassword(value);
  return hashPassword(value);
}
