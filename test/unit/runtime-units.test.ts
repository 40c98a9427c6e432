// The pure parts of the runtime: metrics snapshots and their Prometheus text, the
// respawn policy (backoff, crash loop), connection errors mapped to 503, log redaction.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createRequestMetrics, mergeSnapshots, countersOnly, renderPrometheus, emptySnapshot } from '../../lib/metrics.js';
import { createRespawnPolicy } from '../../server/respawn.js';
import pg from 'pg';
import { fromPgError } from '../../lib/http/errors.js';
import { asDatabaseError } from '../../lib/db/errors.js';
import { REDACT } from '../../lib/log.js';

const t = suite('runtime units');

t('metrics: two workers add up, histogram buckets are cumulative', () => {
  const w1 = createRequestMetrics();
  const w2 = createRequestMetrics();
  w1.observe({ method: 'GET', route: '/people/:id', status: 200, seconds: 0.003 });
  w1.observe({ method: 'GET', route: '/people/:id', status: 200, seconds: 0.2 });
  w2.observe({ method: 'GET', route: '/people/:id', status: 404, seconds: 20 });
  w2.observe({ method: 'POST', route: '/pols/:id/:page', status: 201, seconds: 0.04 });
  const auth = { verifications: 1, cacheHits: 2, failures: 0 };
  const merged = mergeSnapshots([w1.snapshot({ total: 3, idle: 2, waiting: 0 }, auth), countersOnly(w2.snapshot({ total: 5, idle: 5, waiting: 1 }, auth))]);
  const text = renderPrometheus(merged, { workersUp: 2, restarts: 1, reloads: 0 });
  const lines = new Set(text.split('\n'));
  for (const line of [
    'thalamus_http_requests_total{method="GET",route="/people/:id",status="200"} 2',
    'thalamus_http_requests_total{method="GET",route="/people/:id",status="404"} 1',
    'thalamus_http_requests_total{method="POST",route="/pols/:id/:page",status="201"} 1',
    'thalamus_http_request_duration_seconds_bucket{route="/people/:id",le="0.005"} 1',
    'thalamus_http_request_duration_seconds_bucket{route="/people/:id",le="0.25"} 2',
    'thalamus_http_request_duration_seconds_bucket{route="/people/:id",le="10"} 2',
    'thalamus_http_request_duration_seconds_bucket{route="/people/:id",le="+Inf"} 3',
    'thalamus_http_request_duration_seconds_count{route="/people/:id"} 3',
    'thalamus_db_pool_connections{state="total"} 3',
    'thalamus_db_pool_connections{state="idle"} 2',
    'thalamus_db_pool_connections{state="in_use"} 1',
    'thalamus_db_pool_waiting 0',
    'thalamus_auth_verifications_total 2',
    'thalamus_auth_cache_hits_total 4',
    'thalamus_workers_up 2',
    'thalamus_worker_restarts_total 1',
    '# TYPE thalamus_http_request_duration_seconds histogram',
  ]) assert.ok(lines.has(line), line);
  assert.ok(text.endsWith('\n'));
});

t('metrics: a snapshot is a copy; an empty one renders the families', () => {
  const m = createRequestMetrics();
  const before = m.snapshot({ total: 0, idle: 0, waiting: 0 }, { verifications: 0, cacheHits: 0, failures: 0 });
  m.observe({ method: 'GET', route: '/', status: 200, seconds: 0.001 });
  assert.equal(before.requests, {});
  assert.match(renderPrometheus(emptySnapshot(), { workersUp: 0, restarts: 0, reloads: 0 }), /^thalamus_workers_up 0$/m);
});

t('respawn: backoff doubles; the tenth death within 60 s is a crash loop', () => {
  const p = createRespawnPolicy();
  const delays = Array.from({ length: 9 }, (_, i) => p.record(1000 + i));
  assert.equal(delays.map((d) => d.delayMs), [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
  assert.ok(delays.every((d) => !d.stop));
  assert.equal(p.record(2000), { stop: true, delayMs: 10_000, deaths: 10 });
  const q = createRespawnPolicy();
  for (let i = 0; i < 9; i++) q.record(i * 1000);
  assert.equal(q.record(61_000), { stop: false, delayMs: 10_000, deaths: 8 });
});

/** PostgreSQL's own error, as the driver raises it. */
const pgError = (message: string, code: string) => Object.assign(new pg.DatabaseError(message, 0, 'error'), { code });

t('connection errors, by type and code (never by message), are 503 with Retry-After', () => {
  for (const err of [
    // What the pool raises for the driver's errors without a SQLSTATE (lib/db/pool.ts).
    asDatabaseError(new Error('timeout exceeded when trying to connect')),
    asDatabaseError(new Error('Connection terminated unexpectedly')),
    asDatabaseError(new Error('Client has encountered a connection error and is not queryable')),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    pgError('terminating connection due to administrator command', '57P01'),
    pgError('the database system is starting up', '57P03'),
    pgError('too many connections', '53300'),
  ]) {
    const mapped = fromPgError(err);
    assert.is(mapped?.status, 503, err.message);
    assert.is(mapped?.code, 'DATABASE_UNAVAILABLE');
    assert.equal(mapped?.headers, { 'Retry-After': '5' });
  }
  assert.is(fromPgError(new Error('something else')), undefined);
  assert.is(fromPgError(new Error('Connection terminated unexpectedly')), undefined, 'not from the pool: a bug, not an outage');
  assert.is(fromPgError({ code: '57P01' }), undefined, 'a code alone is not PostgreSQL\'s error');
  assert.is(fromPgError(null), undefined);
});

t('log lines never carry Authorization, cookies or passwords', () => {
  let out = '';
  const sink = new Writable({ write(chunk, _enc, cb) { out += chunk; cb(); } });
  const log = pino({ redact: { paths: REDACT, censor: '[redacted]' } }, sink);
  log.info({ req: { headers: { authorization: 'Basic QUJDOmRlZg==', cookie: 'sid=1' } }, body: { password: 'gnusolidario' }, password: 'freedom' }, 'x');
  assert.not.match(out, /QUJD|sid=1|gnusolidario|freedom/);
  assert.match(out, /\[redacted\]/);
});

t.run();
