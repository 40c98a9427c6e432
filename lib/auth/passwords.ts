// Password hashes: argon2id for every new hash, bcrypt ($2a$, $2b$, $2y$) still
// verified so upstream databases keep working. Both run on libuv's thread pool, a
// bounded number at a time (hash-slots.ts). A hash costs what its parameters say, so
// parameters are bounded: a pre-made hash outside the bounds is refused, and a stored
// one above the maximums is never run (its login fails closed). The settings are an
// argument (password-settings.ts): a server's own object, createPasswords(settings),
// also holds its dummy hash; the functions' default is the shipped settings.
import argon2 from 'argon2';
import bcrypt from 'bcrypt';
import { inHashSlot } from './hash-slots.js';
import { DEFAULT_BOUNDS, DEFAULT_PASSWORD_SETTINGS, type HashBounds, type PasswordSettings } from './password-settings.js';

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
// The PHC string's parameters come in either order: the reference writes m,t,p; the
// npm argon2 package writes m,p,t.
const ARGON2 = /^\$argon2(id|i|d)\$v=\d+\$[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** True when `value` is already a hash we can verify (clients may send either kind). */
export function isPasswordHash(value: string): boolean {
  return BCRYPT.test(value) || ARGON2.test(value);
}

interface HashParams { kind: 'bcrypt'; cost: number }
interface Argon2HashParams { kind: 'argon2'; variant: string; m: number; t: number; p: number }

/** The variant and the three parameters of a hash ARGON2 accepts, by one match (an import checks a million). */
const ARGON2_PARAMS = /^\$argon2(id|i|d)\$v=\d+\$([mtp])=(\d+),([mtp])=(\d+),([mtp])=(\d+)\$/;

function paramsOf(hash: string): HashParams | Argon2HashParams | undefined {
  if (BCRYPT.test(hash)) return { kind: 'bcrypt', cost: Number(hash.slice(4, 6)) };
  if (!ARGON2.test(hash)) return undefined;
  const m = ARGON2_PARAMS.exec(hash)!;
  // A parameter named twice leaves another one missing: NaN, which every bound refuses.
  const values: Record<string, number> = { [m[2]!]: Number(m[3]), [m[4]!]: Number(m[5]), [m[6]!]: Number(m[7]) };
  return { kind: 'argon2', variant: m[1]!, m: Number(values.m), t: Number(values.t), p: Number(values.p) };
}

/** A label for the hash's algorithm and cost, which its verification time depends on. */
export function hashKind(hash: string): string {
  const p = paramsOf(hash);
  if (!p) return 'none';
  return p.kind === 'bcrypt' ? `bcrypt-${p.cost}` : `${p.variant}-m${p.m}-t${p.t}-p${p.p}`;
}

/** Why a pre-made hash may not be stored (outside the bounds), or undefined when it may. */
export function premadeHashProblem(hash: string, bounds: HashBounds = DEFAULT_BOUNDS): string | undefined {
  const p = paramsOf(hash);
  if (!p) return 'not a bcrypt or argon2 hash';
  if (p.kind === 'bcrypt') {
    if (p.cost < bounds.bcryptCostMin || p.cost > bounds.bcryptCostMax) return `a bcrypt cost must be from ${bounds.bcryptCostMin} to ${bounds.bcryptCostMax}, not ${p.cost}`;
    return undefined;
  }
  return argon2Excess(p, bounds);
}

function argon2Excess(p: Argon2HashParams, bounds: HashBounds): string | undefined {
  if (!(p.m >= 1 && p.m <= bounds.argon2MaxMemoryKib)) return `argon2 memory must be at most ${bounds.argon2MaxMemoryKib} KiB, not ${p.m}`;
  if (!(p.t >= 1 && p.t <= bounds.argon2MaxTimeCost)) return `argon2 iterations must be at most ${bounds.argon2MaxTimeCost}, not ${p.t}`;
  if (!(p.p >= 1 && p.p <= bounds.argon2MaxParallelism)) return `argon2 parallelism must be at most ${bounds.argon2MaxParallelism}, not ${p.p}`;
  return undefined;
}

/**
 * Why a stored hash must not be run (dearer than the maximums), or undefined. Cheaper
 * ones than the minimums are still verified: they cost little and are upgraded.
 */
export function storedHashProblem(hash: string, bounds: HashBounds = DEFAULT_BOUNDS): string | undefined {
  const p = paramsOf(hash);
  if (!p) return undefined;
  if (p.kind === 'bcrypt') return p.cost > bounds.bcryptCostMax ? `bcrypt cost ${p.cost} exceeds ${bounds.bcryptCostMax}` : undefined;
  return argon2Excess(p, bounds);
}

const NEW_BCRYPT_COST = 12;

/** A new hash of `plain` by the settings' algorithm and parameters. */
export function hashPassword(plain: string, settings: PasswordSettings = DEFAULT_PASSWORD_SETTINGS): Promise<string> {
  if (settings.algorithm === 'bcrypt') return inHashSlot(() => bcrypt.hash(plain, NEW_BCRYPT_COST));
  return inHashSlot(() => argon2.hash(plain, { type: argon2.argon2id, ...settings.argon2 }));
}

/**
 * Verifies `plain` against a stored bcrypt or argon2 hash; anything else, or a hash
 * above the bounds, never matches. `timed` receives how long the hash itself ran (not
 * the wait for a hash slot).
 */
export async function verifyPassword(plain: string, stored: string, bounds: HashBounds = DEFAULT_BOUNDS, timed?: (ms: number) => void): Promise<boolean> {
  if (storedHashProblem(stored, bounds)) return false;
  const run = (verify: () => Promise<boolean>) => inHashSlot(async () => {
    const started = performance.now();
    try {
      return await verify();
    } finally {
      timed?.(performance.now() - started);
    }
  });
  try {
    // node's bcrypt knows $2a$ and $2b$; $2y$ is the same algorithm under PHP's name.
    if (BCRYPT.test(stored)) return await run(() => bcrypt.compare(plain, stored.replace(/^\$2y\$/, '$2b$')));
    if (ARGON2.test(stored)) return await run(() => argon2.verify(stored, plain));
  } catch {
    return false;
  }
  return false;
}

/**
 * A stored hash that should be replaced after the next successful login: one of the
 * other algorithm than PASSWORD_HASH, or an argon2 hash made with other parameters
 * than the configured ones.
 */
export function needsRehash(stored: string, settings: PasswordSettings = DEFAULT_PASSWORD_SETTINGS): boolean {
  // With PASSWORD_HASH = bcrypt, logins turn argon2 hashes back into bcrypt (for a rollback).
  if (settings.algorithm === 'bcrypt') return !BCRYPT.test(stored);
  if (BCRYPT.test(stored)) return true;
  try {
    return !stored.startsWith('$argon2id$') || argon2.needsRehash(stored, { ...settings.argon2 });
  } catch {
    return false;
  }
}

/**
 * A bcrypt hash at the cost upstream's tools and Python's bcrypt.gensalt() write (12), of
 * 'thalamus-timing': verified before a worker's first failed login is answered, to learn
 * how long a stored upstream hash takes (lib/auth/failure-time.ts). Made once
 * (bcrypt.hash('thalamus-timing', 12)) rather than by every worker, where making it cost
 * as much CPU again as the verification.
 */
const UPSTREAM_BCRYPT_SAMPLE = '$2b$12$Zeh5RqiQqwZNRqFtz12veeWj3u4LWCH2WGFjTqSgK25oErPG6fwn2';

/** One server's (or command's) password hashing: its settings, and the dummy hash made with them. */
export interface Passwords {
  readonly settings: PasswordSettings;
  hash(plain: string): Promise<string>;
  verify(plain: string, stored: string, timed?: (ms: number) => void): Promise<boolean>;
  needsRehash(stored: string): boolean;
  premadeHashProblem(hash: string): string | undefined;
  storedHashProblem(hash: string): string | undefined;
  /** Spends the time of one verification, for accounts that cannot log in; `timed` gets its kind and duration. */
  dummyVerify(plain: string, timed?: (kind: string, ms: number) => void): Promise<void>;
  /**
   * Verifies a wrong password once against an argon2id hash with the current parameters
   * and once against an upstream-style bcrypt hash, reporting each time to `record`, so
   * failed logins are padded to the dearer of the two from the first request on.
   */
  measureVerifications(record: (kind: string, ms: number) => void): Promise<void>;
}

export function createPasswords(settings: PasswordSettings = DEFAULT_PASSWORD_SETTINGS): Passwords {
  const { bounds } = settings;
  /** A hash with these settings, verified against for accounts that cannot log in; made once, when first needed. */
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= hashPassword('thalamus-dummy-password', settings));
  return {
    settings,
    hash: (plain) => hashPassword(plain, settings),
    verify: (plain, stored, timed) => verifyPassword(plain, stored, bounds, timed),
    needsRehash: (stored) => needsRehash(stored, settings),
    premadeHashProblem: (hash) => premadeHashProblem(hash, bounds),
    storedHashProblem: (hash) => storedHashProblem(hash, bounds),
    async dummyVerify(plain, timed) {
      const hash = await dummyHash();
      await verifyPassword(plain, hash, bounds, (ms) => timed?.(hashKind(hash), ms));
    },
    async measureVerifications(record) {
      for (const hash of [UPSTREAM_BCRYPT_SAMPLE, await dummyHash()]) {
        await verifyPassword('thalamus-not-this', hash, bounds, (ms) => record(hashKind(hash), ms));
      }
    },
  };
}
