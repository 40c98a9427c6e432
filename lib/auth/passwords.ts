// Password hashes: argon2id for every new hash, bcrypt ($2a$, $2b$, $2y$) still
// verified so upstream databases keep working. Both run on libuv's thread pool.
import argon2 from 'argon2';
import bcrypt from 'bcrypt';

/** OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane. */
export interface Argon2Params { memoryCost: number; timeCost: number; parallelism: number }
export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
// The parameters come in any order: the argon2 package writes m,p,t; the reference tools m,t,p.
const ARGON2 = /^\$argon2(id|i|d)\$v=\d+\$[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export function isBcryptHash(value: string): boolean { return BCRYPT.test(value); }

/** True when `value` is already a hash we can verify (clients may send either kind). */
export function isPasswordHash(value: string): boolean {
  return BCRYPT.test(value) || ARGON2.test(value);
}

let params: Argon2Params = DEFAULT_ARGON2;
/** Sets the argon2id parameters for new hashes. */
export function setArgon2Params(p: Argon2Params): void { params = p; }

export function hashPassword(plain: string): Promise<string> {
  return argon2.hash(plain, { type: argon2.argon2id, ...params });
}

/** Verifies `plain` against a stored bcrypt or argon2 hash; anything else never matches. */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  try {
    if (BCRYPT.test(stored)) {
      // node's bcrypt knows $2a$ and $2b$; $2y$ is the same algorithm under PHP's name.
      return await bcrypt.compare(plain, stored.replace(/^\$2y\$/, '$2b$'));
    }
    if (ARGON2.test(stored)) return await argon2.verify(stored, plain);
  } catch {
    return false;
  }
  return false;
}

/** A stored hash that should be replaced by argon2id after the next successful login. */
export function needsRehash(stored: string): boolean {
  return BCRYPT.test(stored);
}

let dummy: Promise<string> | undefined;
/** Spends the time of one verification, for accounts that cannot log in. */
export async function dummyVerify(plain: string): Promise<void> {
  dummy ??= hashPassword('thalamus-dummy-password');
  await verifyPassword(plain, await dummy);
}
