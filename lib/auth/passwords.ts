// Password hashes: argon2id for every new hash, bcrypt ($2a$, $2b$, $2y$) still
// verified so upstream databases keep working. Both run on libuv's thread pool, a
// bounded number at a time (hash-slots.ts).
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { inHashSlot } from './hash-slots.js';
import { DEFAULT_ARGON2, type Argon2Params } from './argon2-params.js';

export { DEFAULT_ARGON2, type Argon2Params };

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
// The PHC string's parameters come in either order: the reference writes m,t,p; the
// npm argon2 package writes m,p,t.
const ARGON2 = /^\$argon2(id|i|d)\$v=\d+\$[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** True when `value` is already a hash we can verify (clients may send either kind). */
export function isPasswordHash(value: string): boolean {
  return BCRYPT.test(value) || ARGON2.test(value);
}

let params: Argon2Params = DEFAULT_ARGON2;
/** A hash with the current parameters, verified against for accounts that cannot log in. */
let dummy: Promise<string> | undefined;
/** Sets the argon2id parameters for new hashes (and for the dummy verification). */
export function setArgon2Params(p: Argon2Params): void {
  if (p.memoryCost === params.memoryCost && p.timeCost === params.timeCost && p.parallelism === params.parallelism) return;
  params = { ...p };
  dummy = undefined;
}

export function hashPassword(plain: string): Promise<string> {
  const current = params;
  return inHashSlot(() => argon2.hash(plain, { type: argon2.argon2id, ...current }));
}

/** Verifies `plain` against a stored bcrypt or argon2 hash; anything else never matches. */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  try {
    if (BCRYPT.test(stored)) {
      // node's bcrypt knows $2a$ and $2b$; $2y$ is the same algorithm under PHP's name.
      return await inHashSlot(() => bcrypt.compare(plain, stored.replace(/^\$2y\$/, '$2b$')));
    }
    if (ARGON2.test(stored)) return await inHashSlot(() => argon2.verify(stored, plain));
  } catch {
    return false;
  }
  return false;
}

/**
 * A stored hash that should be replaced after the next successful login: bcrypt, or an
 * argon2 hash made with other parameters than the configured ones.
 */
export function needsRehash(stored: string): boolean {
  if (BCRYPT.test(stored)) return true;
  try {
    return !stored.startsWith('$argon2id$') || argon2.needsRehash(stored, { ...params });
  } catch {
    return false;
  }
}

/** Spends the time of one verification, for accounts that cannot log in. */
export async function dummyVerify(plain: string): Promise<void> {
  dummy ??= hashPassword('thalamus-dummy-password');
  await verifyPassword(plain, await dummy);
}
