// argon2id cost parameters and OWASP's floor for them (Password Storage Cheat Sheet:
// equivalent settings trading memory for iterations, all with one lane).

export interface Argon2Params { memoryCost: number; timeCost: number; parallelism: number }

/** OWASP's minimum: 19 MiB, 2 iterations, 1 lane. */
export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** OWASP's equivalent minimum settings: [memory KiB, iterations]. */
const OWASP_FLOOR: Array<[number, number]> = [[47104, 1], [19456, 2], [12288, 3], [9216, 4], [7168, 5]];

/** Why `p` is below OWASP's minimum, or undefined when it is at or above it. */
export function argon2Weakness(p: Argon2Params): string | undefined {
  if (p.parallelism < 1 || p.parallelism > 255) return 'parallelism must be from 1 to 255';
  if (OWASP_FLOOR.some(([m, t]) => p.memoryCost >= m && p.timeCost >= t)) return undefined;
  return `m=${p.memoryCost} KiB, t=${p.timeCost} is below OWASP's minimum (one of ${OWASP_FLOOR.map(([m, t]) => `m>=${m},t>=${t}`).join('; ')})`;
}
