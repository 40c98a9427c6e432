// The password policy, shared by the API, the password form and the CLI.
import { errors } from '../http/errors.js';
import { isPasswordHash, type Passwords } from './passwords.js';

export const MAX_PASSWORD_BYTES = 1024;

/** Throws a 400 naming what is wrong with a new plain-text password; `minLength` is PASSWORD_MIN_LENGTH. */
export function checkNewPassword(plain: string, minLength: number): void {
  if ([...plain].length < minLength) throw errors.badPassword(`The password must have at least ${minLength} characters`);
  if (Buffer.byteLength(plain) > MAX_PASSWORD_BYTES) throw errors.badPassword(`The password must not exceed ${MAX_PASSWORD_BYTES} bytes`);
}

/**
 * The value to store for a password sent in a body: plain text is checked and hashed;
 * null removes the password (the person can then not log in); a bcrypt or argon2 hash
 * is kept as is only from an account administrator (`mayStoreHash`, the ACL name
 * `roles`) and only within the configured cost bounds, since every later login of the
 * account runs it.
 */
export async function storedPassword(passwords: Passwords, value: unknown, mayStoreHash: boolean): Promise<string | null> {
  if (value === null) return null;
  if (typeof value !== 'string') throw errors.badPassword('The password must be a string');
  if (isPasswordHash(value)) {
    if (!mayStoreHash) throw errors.premadeHashForbidden();
    const problem = passwords.premadeHashProblem(value);
    if (problem) throw errors.badPassword(`The password hash is outside the accepted bounds: ${problem}`);
    return value;
  }
  checkNewPassword(value, passwords.settings.minLength);
  return passwords.hash(value);
}
