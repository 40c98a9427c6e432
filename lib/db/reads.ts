// Read routing (READ_DATABASE_URL): listings, feed=normal pages and exports may read
// from a hot standby, everything else from the primary. A probe measures the standby's
// lag (lib/db/lag.ts) every PROBE_MS; the standby is used while it answers and lags at
// most READ_MAX_LAG, skipped (a log line, a metric) when it lags more or fails, and used
// again once its lag is back under half the bound (so a lag hovering at the bound does
// not flap). A read the standby fails before anything was sent is run again on the
// primary, and a listing whose standby connection goes midway continues on the primary
// after its last row, so a standby that stops between two probes costs a retry, not an
// error.
import type pg from 'pg';
import type { Logger } from '../log.js';
import { createPool, closePool } from './pool.js';
import { lagSeconds, lsn, positionOf, PRIMARY_POSITION_SQL, STANDBY_POSITION_SQL, type StandbyRow, type WalSample } from './lag.js';

export interface ReadStats {
  /** A standby is configured. */
  configured: boolean;
  /** Reads go to it now. */
  inUse: boolean;
  /** Its lag at the last probe; null when it did not answer. */
  lagSeconds: number | null;
  /** Times it was skipped (lagging or failing) after being in use. */
  skips: number;
  standbyReads: number;
  primaryReads: number;
  /** Reads the standby failed and the primary then served (from the start, or from where a listing was). */
  retried: number;
}

export interface Reads {
  /**
   * Runs `read` on the standby when it is in use, else on the primary. When the standby
   * fails it and `retry(err)` says the primary may try (nothing was sent yet, the error
   * is not the client's), it is run on the primary. A read that streams can take the
   * primary itself when its standby connection fails midway (`fallback`, given with the
   * standby only): a listing then goes on from its last row.
   */
  run<T>(read: (pool: pg.Pool, fallback?: () => pg.Pool) => Promise<T>, retry?: (err: unknown) => boolean): Promise<T>;
  stats(): ReadStats;
  close(): Promise<void>;
}

/** Everything on the primary (no READ_DATABASE_URL). */
export function primaryReads(primary: pg.Pool): Reads {
  let n = 0;
  return {
    run: (read) => { n++; return read(primary); },
    stats: () => ({ configured: false, inUse: false, lagSeconds: null, skips: 0, standbyReads: 0, primaryReads: n, retried: 0 }),
    close: async () => undefined,
  };
}

export interface ReadOptions {
  url: string;
  primary: pg.Pool;
  size: number;
  maxLagSeconds: number;
  log: Logger;
  /** Between probes; default a fifth of the bound, at most 1 s. */
  probeMs?: number;
}

type State = 'starting' | 'in use' | 'lagging' | 'down';

/** A probe that takes longer than this (or the bound, if more) counts as failed. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * `work`, or a rejection after `ms`. The queries also carry query_timeout, which ends a
 * connection stuck on a server that stopped answering (rather than leaving it taken).
 */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export function createReads(opts: ReadOptions): Reads {
  const { primary, log } = opts;
  const standby = createPool({ url: opts.url, size: opts.size, applicationName: 'thalamus-read' });
  const maxLag = opts.maxLagSeconds;
  const probeMs = opts.probeMs ?? Math.min(1000, (maxLag * 1000) / 5);
  const timeoutMs = Math.max(PROBE_TIMEOUT_MS, probeMs);
  const stats: ReadStats = { configured: true, inUse: false, lagSeconds: null, skips: 0, standbyReads: 0, primaryReads: 0, retried: 0 };
  let state: State = 'starting';
  let samples: WalSample[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let probing: Promise<void> | undefined;

  const enter = (next: State, detail: Record<string, unknown>, why: string) => {
    if (next === state) return;
    const was = state;
    state = next;
    stats.inUse = next === 'in use';
    if (next === 'in use') log.info({ ...detail, was }, was === 'starting' ? 'read standby in use' : 'read standby in use again');
    else {
      if (was === 'in use') stats.skips++;
      log.warn({ ...detail, was }, `read standby skipped: ${why}; listings, feed pages and exports read from the primary`);
    }
  };

  const measure = async () => {
    const asked = Date.now();
    try {
      const { rows } = await within(primary.query<{ lsn: string }>({ text: PRIMARY_POSITION_SQL, query_timeout: timeoutMs } as pg.QueryConfig), timeoutMs);
      samples.push({ at: asked, lsn: lsn(rows[0]!.lsn) });
    } catch {
      // The primary is away (a failover): the standby is judged on its own.
    }
    // Samples older than twice the bound can no longer decide anything.
    const keepFrom = Date.now() - 2 * maxLag * 1000 - 2 * probeMs;
    const firstKept = samples.findIndex((s) => s.at >= keepFrom);
    samples = firstKept <= 0 ? samples : samples.slice(firstKept - 1);
    let lag: number;
    try {
      const { rows } = await within(standby.query<StandbyRow>({ text: STANDBY_POSITION_SQL, query_timeout: timeoutMs } as pg.QueryConfig), timeoutMs);
      lag = lagSeconds(samples, positionOf(rows[0]!), Date.now());
    } catch (err) {
      stats.lagSeconds = null;
      enter('down', { err: (err as Error).message }, 'it does not answer');
      return;
    }
    stats.lagSeconds = Number.isFinite(lag) ? Math.round(lag * 1000) / 1000 : null;
    const shown = { lagSeconds: stats.lagSeconds, maxLagSeconds: maxLag };
    if (lag > maxLag) enter('lagging', shown, `it lags ${Number.isFinite(lag) ? `${lag.toFixed(1)} s` : 'without measure'}, more than READ_MAX_LAG (${maxLag} s)`);
    else if (state !== 'in use' && (state === 'starting' || lag <= maxLag / 2)) enter('in use', shown, '');
  };

  const probe = (): Promise<void> => {
    clearTimeout(timer);
    probing ??= measure().finally(() => {
      probing = undefined;
      if (!closed) { timer = setTimeout(() => void probe(), probeMs); timer.unref(); }
    });
    return probing;
  };
  void probe();

  return {
    async run(read, retry = () => true) {
      if (state !== 'in use') { stats.primaryReads++; return read(primary); }
      const fallback = () => {
        void probe();
        stats.retried++;
        return primary;
      };
      try {
        const result = await read(standby, fallback);
        stats.standbyReads++;
        return result;
      } catch (err) {
        if (!retry(err)) throw err;
        // The next probe, now, decides whether the standby stays in use.
        void probe();
        stats.retried++;
        stats.primaryReads++;
        return read(primary);
      }
    },
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      clearTimeout(timer);
      await probing;
      clearTimeout(timer);
      await closePool(standby);
    },
  };
}
