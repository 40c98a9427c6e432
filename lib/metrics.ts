// Request metrics: what one worker counts (plain, serializable snapshots), how snapshots
// of several workers add up, and the Prometheus text format they are served in. Nothing
// here knows where the snapshots come from.
import type { RequestInfo } from './app.js';
import type { ReadStats } from './db/reads.js';

/** Upper bounds of the latency histogram, in seconds. */
export const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Histogram { buckets: number[]; sum: number; count: number }

export interface Snapshot {
  /** Requests by `method route status` (tab-separated). */
  requests: Record<string, number>;
  /** Latency by route; `buckets[i]` counts requests at most BUCKETS[i] (not cumulative). */
  latency: Record<string, Histogram>;
  pool: { total: number; idle: number; waiting: number };
  auth: { verifications: number; cacheHits: number; failures: number; oneRoundTrip: number; guardFailed: number };
  /** Read routing (lib/db/reads.ts): gauges are workers (or the largest lag), the rest counters. */
  reads: ReadCounts;
}

export interface ReadCounts {
  /** Workers with a read standby configured, and those reading from it now. */
  configured: number;
  inUse: number;
  /** The largest lag any worker measured at its last probe; null when none did. */
  lagSeconds: number | null;
  skips: number;
  standbyReads: number;
  primaryReads: number;
  retried: number;
}

const NO_READS: ReadCounts = { configured: 0, inUse: 0, lagSeconds: null, skips: 0, standbyReads: 0, primaryReads: 0, retried: 0 };

/** One worker's read routing as counts. */
export function readCounts(s: ReadStats): ReadCounts {
  return { ...s, configured: s.configured ? 1 : 0, inUse: s.inUse ? 1 : 0 };
}

export interface Cluster { workersUp: number; restarts: number; reloads: number }

export function emptySnapshot(): Snapshot {
  return { requests: {}, latency: {}, pool: { total: 0, idle: 0, waiting: 0 }, auth: { verifications: 0, cacheHits: 0, failures: 0, oneRoundTrip: 0, guardFailed: 0 }, reads: { ...NO_READS } };
}

export interface RequestMetrics {
  observe(info: RequestInfo): void;
  /** The counters so far, with the gauges given. */
  snapshot(pool: Snapshot['pool'], auth: Snapshot['auth'], reads?: ReadCounts): Snapshot;
}

export function createRequestMetrics(): RequestMetrics {
  const current = emptySnapshot();
  return {
    observe({ method, route, status, seconds }) {
      const key = `${method}\t${route}\t${status}`;
      current.requests[key] = (current.requests[key] ?? 0) + 1;
      const h = (current.latency[route] ??= { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 });
      const i = BUCKETS.findIndex((le) => seconds <= le);
      if (i >= 0) h.buckets[i]!++;
      h.sum += seconds;
      h.count++;
    },
    snapshot(pool, auth, reads = NO_READS) {
      return { requests: { ...current.requests }, latency: structuredClone(current.latency), pool: { ...pool }, auth: { ...auth }, reads: { ...reads } };
    },
  };
}

/** Adds snapshots: counters and gauges alike are summed. */
export function mergeSnapshots(list: Snapshot[]): Snapshot {
  const out = emptySnapshot();
  for (const s of list) {
    for (const [k, n] of Object.entries(s.requests)) out.requests[k] = (out.requests[k] ?? 0) + n;
    for (const [route, h] of Object.entries(s.latency)) {
      const o = (out.latency[route] ??= { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 });
      h.buckets.forEach((n, i) => { o.buckets[i] = (o.buckets[i] ?? 0) + n; });
      o.sum += h.sum;
      o.count += h.count;
    }
    for (const k of ['total', 'idle', 'waiting'] as const) out.pool[k] += s.pool[k];
    for (const k of ['verifications', 'cacheHits', 'failures', 'oneRoundTrip', 'guardFailed'] as const) out.auth[k] += s.auth[k] ?? 0;
    // A snapshot from a worker of an older version has no `reads`.
    const r = s.reads ?? NO_READS;
    for (const k of ['configured', 'inUse', 'skips', 'standbyReads', 'primaryReads', 'retried'] as const) out.reads[k] += r[k];
    if (r.lagSeconds !== null) out.reads.lagSeconds = Math.max(out.reads.lagSeconds ?? 0, r.lagSeconds);
  }
  return out;
}

/** Keeps only the counters of a snapshot (a worker that is gone holds no connections). */
export function countersOnly(s: Snapshot): Snapshot {
  return { ...s, pool: { total: 0, idle: 0, waiting: 0 }, reads: { ...(s.reads ?? NO_READS), configured: 0, inUse: 0, lagSeconds: null } };
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function family(lines: string[], name: string, type: string, help: string): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

/** The cluster's metrics in the Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(s: Snapshot, cluster: Cluster): string {
  const lines: string[] = [];
  family(lines, 'thalamus_http_requests_total', 'counter', 'Requests answered, by method, route pattern and status.');
  for (const [key, n] of Object.entries(s.requests).sort()) {
    const [method, route, status] = key.split('\t');
    lines.push(`thalamus_http_requests_total{method="${label(method!)}",route="${label(route!)}",status="${status}"} ${n}`);
  }
  family(lines, 'thalamus_http_request_duration_seconds', 'histogram', 'Time from request to the end of the response, by route pattern.');
  for (const [route, h] of Object.entries(s.latency).sort()) {
    const r = label(route);
    let cumulative = 0;
    BUCKETS.forEach((le, i) => {
      cumulative += h.buckets[i] ?? 0;
      lines.push(`thalamus_http_request_duration_seconds_bucket{route="${r}",le="${le}"} ${cumulative}`);
    });
    lines.push(`thalamus_http_request_duration_seconds_bucket{route="${r}",le="+Inf"} ${h.count}`);
    lines.push(`thalamus_http_request_duration_seconds_sum{route="${r}"} ${h.sum}`);
    lines.push(`thalamus_http_request_duration_seconds_count{route="${r}"} ${h.count}`);
  }
  family(lines, 'thalamus_db_pool_connections', 'gauge', 'PostgreSQL connections of all worker pools, by state.');
  lines.push(`thalamus_db_pool_connections{state="total"} ${s.pool.total}`);
  lines.push(`thalamus_db_pool_connections{state="idle"} ${s.pool.idle}`);
  lines.push(`thalamus_db_pool_connections{state="in_use"} ${s.pool.total - s.pool.idle}`);
  family(lines, 'thalamus_db_pool_waiting', 'gauge', 'Queries waiting for a pool connection.');
  lines.push(`thalamus_db_pool_waiting ${s.pool.waiting}`);
  family(lines, 'thalamus_auth_verifications_total', 'counter', 'Password hash verifications (credential cache misses).');
  lines.push(`thalamus_auth_verifications_total ${s.auth.verifications}`);
  family(lines, 'thalamus_auth_cache_hits_total', 'counter', 'Logins answered by the verified-credential cache.');
  lines.push(`thalamus_auth_cache_hits_total ${s.auth.cacheHits}`);
  family(lines, 'thalamus_auth_failures_total', 'counter', 'Failed logins.');
  lines.push(`thalamus_auth_failures_total ${s.auth.failures}`);
  family(lines, 'thalamus_requests_one_round_trip_total', 'counter', 'Requests of a principal verified before, answered by one guarded statement.');
  lines.push(`thalamus_requests_one_round_trip_total ${s.auth.oneRoundTrip}`);
  family(lines, 'thalamus_requests_guard_failed_total', 'counter', 'Guarded statements whose principal had changed (answered by the full path).');
  lines.push(`thalamus_requests_guard_failed_total ${s.auth.guardFailed}`);
  family(lines, 'thalamus_read_standby_workers', 'gauge', 'Workers with a read standby (READ_DATABASE_URL), and those whose listings read from it now.');
  lines.push(`thalamus_read_standby_workers{state="configured"} ${s.reads.configured}`);
  lines.push(`thalamus_read_standby_workers{state="in_use"} ${s.reads.inUse}`);
  if (s.reads.lagSeconds !== null) {
    family(lines, 'thalamus_read_standby_lag_seconds', 'gauge', 'Largest lag of the read standby behind the primary that a worker measured at its last probe.');
    lines.push(`thalamus_read_standby_lag_seconds ${s.reads.lagSeconds}`);
  }
  family(lines, 'thalamus_read_standby_skips_total', 'counter', 'Times a worker stopped reading from the standby (it lagged over READ_MAX_LAG or failed).');
  lines.push(`thalamus_read_standby_skips_total ${s.reads.skips}`);
  family(lines, 'thalamus_routed_reads_total', 'counter', 'Listings, feed pages and exports, by the server that served them.');
  lines.push(`thalamus_routed_reads_total{target="standby"} ${s.reads.standbyReads}`);
  lines.push(`thalamus_routed_reads_total{target="primary"} ${s.reads.primaryReads}`);
  family(lines, 'thalamus_routed_reads_retried_total', 'counter', 'Reads the standby failed before answering, served again by the primary.');
  lines.push(`thalamus_routed_reads_retried_total ${s.reads.retried}`);
  family(lines, 'thalamus_workers_up', 'gauge', 'Worker processes running.');
  lines.push(`thalamus_workers_up ${cluster.workersUp}`);
  family(lines, 'thalamus_worker_restarts_total', 'counter', 'Workers re-forked after an unexpected exit.');
  lines.push(`thalamus_worker_restarts_total ${cluster.restarts}`);
  family(lines, 'thalamus_reloads_total', 'counter', 'Completed reloads (SIGHUP).');
  lines.push(`thalamus_reloads_total ${cluster.reloads}`);
  return lines.join('\n') + '\n';
}
