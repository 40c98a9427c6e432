// When to re-fork a dead worker: after a backoff that doubles with each recent death,
// and never again once deaths come too fast (a crash loop), so the primary stops with a
// clear message instead of spinning.

/** This many unexpected deaths within CRASH_WINDOW_MS are a crash loop. */
export const CRASH_LIMIT = 10;
export const CRASH_WINDOW_MS = 60_000;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;

export interface RespawnDecision { stop: boolean; delayMs: number; deaths: number }

export interface RespawnPolicy { record(now: number): RespawnDecision }

export function createRespawnPolicy(limit = CRASH_LIMIT, windowMs = CRASH_WINDOW_MS): RespawnPolicy {
  const deaths: number[] = [];
  return {
    record(now) {
      deaths.push(now);
      while (deaths[0]! <= now - windowMs) deaths.shift();
      const n = deaths.length;
      return { stop: n >= limit, delayMs: Math.min(FIRST_BACKOFF_MS * 2 ** (n - 1), MAX_BACKOFF_MS), deaths: n };
    },
  };
}
