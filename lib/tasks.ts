// Two ways a background task runs, each written once: a task run again when asked while
// it runs (the change hub's reads, a subscription's delivery loop, the deliverer's scan,
// the primary's reload), and a purge soon after start and then hourly (the audit trail
// with the failed logins, the change log). A leaf: it imports nothing of lib/.

export interface Rerun {
  /**
   * Starts a run, or, while one runs, asks for one more after it: any number of asks
   * meanwhile make one more run, which sees everything they asked for. Returns the
   * run in progress (undefined when `stop` says no).
   */
  request(): Promise<void> | undefined;
  /** A run is in progress (or waiting for its `pause` before running again). */
  readonly running: boolean;
}

export interface RerunOptions {
  /** True once no run should start (checked before each run, the first included). */
  stop?: () => boolean;
  /** Awaited before each run after the first; asks that arrive meanwhile join that run. */
  pause?: () => Promise<void>;
  /** Called once no run is in progress any more. */
  idle?: () => void;
}

/**
 * A task that is never run twice at once: asked while it runs, it runs once more when
 * it ends. The task handles its own errors; one it throws ends the runs and rejects the
 * promise request() returned.
 */
export function createRerun(task: () => Promise<void>, opts: RerunOptions = {}): Rerun {
  let current: Promise<void> | undefined;
  let active = false;
  let asked = false;
  const stopped = () => opts.stop?.() === true;

  async function loop(): Promise<void> {
    try {
      let first = true;
      do {
        if (!first && opts.pause) await opts.pause();
        first = false;
        asked = false;
        await task();
      } while (asked && !stopped());
    } finally {
      active = false;
      current = undefined;
      opts.idle?.();
    }
  }

  return {
    request() {
      if (stopped()) return undefined;
      if (active) { asked = true; return current; }
      active = true;
      // A task that throws at once has ended the loop already: nothing is left running.
      const run = loop();
      if (active) current = run;
      return run;
    },
    get running() { return active; },
  };
}

const HOURLY_MS = 60 * 60_000;

/**
 * Runs `purge` after `firstMs` (so a start is not slowed by it) and then every
 * `everyMs` (hourly by default), never keeping the process alive for it; returns the
 * function that stops it. `purge` reports its own result and failure (the next run
 * retries), so a failed purge never ends the schedule.
 */
export function schedulePurge(purge: () => Promise<void>, firstMs: number, everyMs = HOURLY_MS): () => void {
  const run = () => { void purge(); };
  const first = setTimeout(run, firstMs);
  const timer = setInterval(run, everyMs);
  first.unref();
  timer.unref();
  return () => { clearTimeout(first); clearInterval(timer); };
}
