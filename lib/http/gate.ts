// A counting gate over named keys, each with its own limit (`open` listings of the
// worker, `a:<account>`, `ip:<address>`, ...). A waiter passes once every key it names
// has room. Waiters pass in order, the `first` ones before the others; one that waits
// on a full key keeps that key for itself (no one behind it overtakes it there) but does
// not hold back those behind it that need other keys.

export type Release = () => void;

export interface AcquireOptions {
  /** Milliseconds to wait before rejecting with `onTimeout()`'s error. */
  timeoutMs: number;
  onTimeout: () => Error;
  /** Served before the waiters without it (a listing resuming, say). */
  first?: boolean;
  /** Gives up waiting when aborted (the client left). */
  signal?: AbortSignal;
}

interface Waiter {
  keys: string[];
  first: boolean;
  grant: (release: Release) => void;
}

export class Gate {
  private readonly held = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limit: (key: string) => number) {}

  /** How many hold `key` now. */
  count(key: string): number {
    return this.held.get(key) ?? 0;
  }

  /** How many wait. */
  get queued(): number {
    return this.waiting.length;
  }

  acquire(keys: string[], opts: AcquireOptions): Promise<Release> {
    return new Promise<Release>((resolve, reject) => {
      if (opts.signal?.aborted) { reject(new Error('aborted')); return; }
      let timer: NodeJS.Timeout | undefined;
      const leave = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        // Keys it kept for itself are free for those behind it.
        this.pump();
      };
      const onAbort = () => { leave(); reject(new Error('aborted')); };
      const waiter: Waiter = {
        keys,
        first: Boolean(opts.first),
        grant: (release) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const at = opts.first ? this.waiting.findIndex((w) => !w.first) : -1;
      this.waiting.splice(at < 0 ? this.waiting.length : at, 0, waiter);
      this.pump();
      if (!this.waiting.includes(waiter)) return;
      timer = setTimeout(() => { leave(); reject(opts.onTimeout()); }, opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private take(keys: string[]): Release {
    for (const k of keys) this.held.set(k, this.count(k) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const k of keys) {
        const n = this.count(k) - 1;
        if (n > 0) this.held.set(k, n); else this.held.delete(k);
      }
      this.pump();
    };
  }

  /** Lets through every waiter that fits, in order, keys kept by earlier waiters excepted. */
  private pump(): void {
    const kept = new Set<string>();
    for (let i = 0; i < this.waiting.length;) {
      const w = this.waiting[i]!;
      const full = w.keys.filter((k) => kept.has(k) || this.count(k) >= this.limit(k));
      if (full.length === 0) {
        this.waiting.splice(i, 1);
        w.grant(this.take(w.keys));
      } else {
        for (const k of full) kept.add(k);
        i++;
      }
    }
  }
}
