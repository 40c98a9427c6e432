// The password settings of one server or one command: how new hashes are made, what a
// hash may cost, how long a new password must be. An object made from the configuration
// and passed through the services (lib/services.ts, the CLI's commands), never module
// state, so two servers in one process may differ.
import type { Config } from '../config.js';
import { DEFAULT_ARGON2, type Argon2Params } from './argon2-params.js';

/**
 * The algorithm of new hashes: argon2id, or bcrypt (cost 12, as upstream writes) while a
 * site may still roll back to upstream Thalamus, which verifies bcrypt only.
 */
export type HashAlgorithm = 'argon2id' | 'bcrypt';

/** What a hash may cost: bcrypt's cost, argon2's memory (KiB), iterations and lanes. */
export interface HashBounds {
  bcryptCostMin: number;
  bcryptCostMax: number;
  argon2MaxMemoryKib: number;
  argon2MaxTimeCost: number;
  argon2MaxParallelism: number;
}

export interface PasswordSettings {
  /** Algorithm of new hashes (PASSWORD_HASH). */
  algorithm: HashAlgorithm;
  /** argon2id parameters of new hashes (ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM). */
  argon2: Argon2Params;
  /** What a pre-made hash may cost to be stored, and a stored one to be run (BCRYPT_COST_*, ARGON2_MAX_*). */
  bounds: HashBounds;
  /** Fewest characters of a new password (PASSWORD_MIN_LENGTH). */
  minLength: number;
}

export const DEFAULT_BOUNDS: HashBounds = { bcryptCostMin: 10, bcryptCostMax: 14, argon2MaxMemoryKib: 65536, argon2MaxTimeCost: 10, argon2MaxParallelism: 4 };

/** NIST SP 800-63B's minimum; PASSWORD_MIN_LENGTH changes it. */
export const DEFAULT_MIN_PASSWORD_CHARS = 8;

export const DEFAULT_PASSWORD_SETTINGS: PasswordSettings = { algorithm: 'argon2id', argon2: DEFAULT_ARGON2, bounds: DEFAULT_BOUNDS, minLength: DEFAULT_MIN_PASSWORD_CHARS };

/** The password settings `config` names. */
export function passwordSettingsOf(config: Config): PasswordSettings {
  return {
    algorithm: config.passwordHash,
    argon2: { memoryCost: config.argon2MemoryKib, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism },
    bounds: {
      bcryptCostMin: config.bcryptCostMin, bcryptCostMax: config.bcryptCostMax, argon2MaxMemoryKib: config.argon2MaxMemoryKib,
      argon2MaxTimeCost: config.argon2MaxTimeCost, argon2MaxParallelism: config.argon2MaxParallelism,
    },
    minLength: config.passwordMinLength,
  };
}
