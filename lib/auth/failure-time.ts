// Failed logins take the same time whatever the account: unknown, inactive, without a
// password, or with a stored hash of any kind and cost. Each kind's verification time
// is measured (the dummy ones before the first failure is answered, the real ones as
// they happen); a failed login is answered no sooner than the slowest kind's usual time
// after its verification began. Waiting costs no thread: only the answer is held back.

/** Samples kept per kind; the floor follows the recent ones. */
const SAMPLES = 16;
/** A failure is never held longer than this, whatever was measured. */
const MAX_FLOOR_MS = 3000;

export interface FailureTimer {
  /** Records how long one verification of `kind` took. */
  record(kind: string, ms: number): void;
  /** The time every failure takes at least, in ms. */
  floorMs(): number;
  /** Resolves once `floorMs()` has passed since `started` (a performance.now() value). */
  pad(started: number): Promise<void>;
}

/** The 75th percentile: above a kind's usual time, without chasing its outliers. */
function upper(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.75))] ?? 0;
}

/**
 * `measure` verifies a sample of each hash kind, recording the times: run once, when the
 * first failure is padded, not at start (a worker that never sees a failed login, or is
 * replaced first, spends no 200 ms of CPU on a cost-12 bcrypt verification).
 */
export function createFailureTimer(measure?: (record: FailureTimer['record']) => Promise<void>): FailureTimer {
  const kinds = new Map<string, number[]>();
  let floor = 0;
  let measured: Promise<void> | undefined;
  const timer: FailureTimer = {
    record(kind, ms) {
      const samples = kinds.get(kind) ?? [];
      samples.push(ms);
      if (samples.length > SAMPLES) samples.shift();
      kinds.set(kind, samples);
      floor = Math.min(MAX_FLOOR_MS, Math.max(...[...kinds.values()].map(upper)));
    },
    floorMs: () => floor,
    async pad(started) {
      if (measure) await (measured ??= measure(timer.record));
      const left = started + floor - performance.now();
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    },
  };
  return timer;
}
