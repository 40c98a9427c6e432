// The password policy, shared by the API and the password form.
import { errors } from '../http/errors.js';
import { hashPassword, isPasswordHash } from './passwords.js';

export const MIN_PASSWORD_CHARS = 8;
export const MAX_PASSWORD_BYTES = 1024;

/** Throws a 400 naming what is wrong with a new plain-text password. */
export function checkNewPassword(plain: string): void {
  if ([...plain].length < MIN_PASSWORD_CHARS) throw errors.badPassword(`The password must have at least ${MIN_PASSWORD_CHARS} characters`);
  if (Buffer.byteLength(plain) > MAX_PASSWORD_BYTES) throw errors.badPassword(`The password must not exceed ${MAX_PASSWORD_BYTES} bytes`);
}

/**
 * The value to store for a password sent in a body: a bcrypt or argon2 hash is kept as
 * is (HMIS nodes and the portal send hashes), plain text is checked and hashed, null
 * removes the password (the person can then not log in).
 */
export async function storedPassword(value: unknown): Promise<string | null> {
  if (value === null) return null;
  if (typeof value !== 'string') throw errors.badPassword('The password must be a string');
  if (isPasswordHash(value)) return value;
  checkNewPassword(value);
  return hashPassword(value);
}
