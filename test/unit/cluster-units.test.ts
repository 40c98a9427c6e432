// The pure parts of running on a PostgreSQL cluster: libpq's multi-host URLs, the
// standby's lag from WAL positions, the read-routing metrics, a failed host choice
// answered 503 by its SQLSTATE, and database passwords masked in multi-host URLs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDatabaseUrl, needsHostSelection, DatabaseUrlError } from '../../lib/db/hosts.js';
import { lagSeconds, lsn, type StandbyPosition } from '../../lib/db/lag.js';
import { NoHostError, poolTarget } from '../../lib/db/target.js';
import { createRequestMetrics, mergeSnapshots, countersOnly, renderPrometheus, readCounts } from '../../lib/metrics.js';
import { fromPgError } from '../../lib/http/errors.js';
import { maskUrl } from '../../server/cli/commands/config.js';
import { loadConfig, ConfigError } from '../../lib/config.js';

const t = suite('cluster units');

t('a multi-host URL: one single-host URL per host, target_session_attrs read and removed', () => {
  const u = parseDatabaseUrl('postgresql://thalamus:p%40ss@h1:5432,[::1]:5433,h3/federation?target_session_attrs=read-write&sslmode=require');
  assert.equal(u.hosts, [{ host: 'h1', port: 5432 }, { host: '::1', port: 5433 }, { host: 'h3', port: undefined }]);
  assert.is(u.attrs, 'read-write');
  assert.is(u.hostUrl(0), 'postgresql://thalamus:p%40ss@h1:5432/federation?sslmode=require');
  assert.is(u.hostUrl(1), 'postgresql://thalamus:p%40ss@[::1]:5433/federation?sslmode=require');
  assert.is(u.hostUrl(2), 'postgresql://thalamus:p%40ss@h3/federation?sslmode=require');
  assert.equal([u.label(0), u.label(1), u.label(2)], ['h1:5432', '[::1]:5433', 'h3:5432']);
  assert.ok(needsHostSelection(u));
});

t('the parameter form host=h1,h2&port=p1,p2, and one port for all', () => {
  const u = parseDatabaseUrl('postgres:///federation?host=10.0.0.1,10.0.0.2&port=5432,6432&target_session_attrs=primary');
  assert.equal(u.hosts, [{ host: '10.0.0.1', port: 5432 }, { host: '10.0.0.2', port: 6432 }]);
  assert.is(u.attrs, 'primary');
  assert.is(u.hostUrl(1), 'postgres://10.0.0.2:6432/federation');
  assert.equal(parseDatabaseUrl('postgresql://u@/db?host=a,b&port=7000').hosts, [{ host: 'a', port: 7000 }, { host: 'b', port: 7000 }]);
});

t('single-host URLs are left to node-postgres as they are', () => {
  for (const url of ['postgresql://thalamus:pw@db.example:5432/federation', 'postgresql://localhost/federation?sslmode=require',
    'postgresql:///federation?host=/var/run/postgresql', 'host=/tmp dbname=federation', '']) {
    assert.not.ok(needsHostSelection(parseDatabaseUrl(url)), url);
    assert.equal(poolTarget(url), { connectionString: url }, url);
  }
  // One host, but a session kind to check: the target checks it.
  assert.ok(needsHostSelection(parseDatabaseUrl('postgresql://h1/db?target_session_attrs=read-write')));
});

t('bad multi-host URLs are refused, and named as configuration errors', () => {
  assert.throws(() => parseDatabaseUrl('postgresql://h1,h2/db?target_session_attrs=writable'), (e: Error) => e instanceof DatabaseUrlError && /target_session_attrs must be one of/.test(e.message));
  assert.throws(() => parseDatabaseUrl('postgresql://h1:99999,h2/db'), (e: Error) => e instanceof DatabaseUrlError);
  assert.throws(() => parseDatabaseUrl('postgresql:///db?host=a,b&port=1,2,3'), (e: Error) => e instanceof DatabaseUrlError);
  assert.throws(() => loadConfig('/nonexistent.cfg', { DATABASE_URL: 'postgresql://h1,h2/db?target_session_attrs=rw' }),
    (e: Error) => e instanceof ConfigError && e.message.startsWith('environment variable DATABASE_URL: POSTGRESQL_URI: target_session_attrs'));
  assert.throws(() => loadConfig('/nonexistent.cfg', { THALAMUS_READ_MAX_LAG: '0' }), (e: Error) => e instanceof ConfigError);
  const c = loadConfig('/nonexistent.cfg', { READ_DATABASE_URL: 'postgresql://standby/db' });
  assert.is(c.readDatabaseUrl, 'postgresql://standby/db');
  assert.is(c.readMaxLag, 5);
});

t('passwords are masked in multi-host URLs too', () => {
  assert.is(maskUrl('postgresql://thalamus:hunter2@h1:5432,h2:5432/federation?target_session_attrs=read-write'),
    'postgresql://thalamus:***@h1:5432,h2:5432/federation?target_session_attrs=read-write');
  assert.is(maskUrl('postgresql://h1,h2/federation?password=hunter2&sslmode=require'), 'postgresql://h1,h2/federation?password=***&sslmode=require');
});

t('no host for the session wanted is 503 DATABASE_UNAVAILABLE, by its SQLSTATE', () => {
  const err = fromPgError(new NoHostError('no host accepts read-write sessions'));
  assert.is(err?.status, 503);
  assert.is(err?.code, 'DATABASE_UNAVAILABLE');
  assert.is(err?.headers['Retry-After'], '5');
});

const standby = (replayed: string, extra: Partial<StandbyPosition> = {}): StandbyPosition =>
  ({ recovery: true, replayed: lsn(replayed), received: lsn(replayed), replayAge: null, ...extra });

t('lag from WAL positions: an idle primary is no lag, however old the last replayed commit', () => {
  assert.is(lsn('0/3000148'), 0x3000148n);
  assert.is(lsn('1/0'), 1n << 32n);
  const now = 100_000;
  const samples = [{ at: 90_000, lsn: lsn('0/5000000') }, { at: 99_000, lsn: lsn('0/5000000') }];
  assert.is(lagSeconds(samples, standby('0/5000000', { replayAge: 3600 }), now), 0);
  // Behind the newest sample but not the one 9 s old, last commit replayed 2 s ago: 2 s.
  const moving = [{ at: 91_000, lsn: lsn('0/5000000') }, { at: 99_000, lsn: lsn('0/6000000') }];
  assert.is(lagSeconds(moving, standby('0/5800000', { replayAge: 2 }), now), 2);
  // A long idle spell, then one commit not replayed yet: the sample bound (9 s), not the hour.
  assert.is(lagSeconds(moving, standby('0/5800000', { replayAge: 3600 }), now), 9);
  // Behind every sample kept, no replay age: unknown, so over any bound.
  assert.is(lagSeconds(moving, standby('0/4000000'), now), Infinity);
  // Promoted: a primary lags nothing.
  assert.is(lagSeconds(moving, { recovery: false, replayed: lsn('0/1'), received: null, replayAge: null }, now), 0);
  // The primary unreachable: caught up with what it received, else the replay age.
  assert.is(lagSeconds([], standby('0/5000000', { replayAge: 50 }), now), 0);
  assert.is(lagSeconds([], standby('0/5000000', { received: lsn('0/6000000'), replayAge: 7 }), now), 7);
});

t('read-routing metrics: workers in use, the largest lag, counters summed; a gone worker keeps only counters', () => {
  const m = createRequestMetrics();
  const pool = { total: 1, idle: 1, waiting: 0 };
  const auth = { verifications: 0, cacheHits: 0, failures: 0 };
  const a = m.snapshot(pool, auth, readCounts({ configured: true, inUse: true, lagSeconds: 0.25, skips: 1, standbyReads: 10, primaryReads: 2, retried: 1 }));
  const b = m.snapshot(pool, auth, readCounts({ configured: true, inUse: false, lagSeconds: 7.5, skips: 2, standbyReads: 5, primaryReads: 3, retried: 0 }));
  const text = renderPrometheus(mergeSnapshots([a, b, countersOnly(a)]), { workersUp: 2, restarts: 0, reloads: 0 });
  const lines = new Set(text.split('\n'));
  for (const line of [
    'thalamus_read_standby_workers{state="configured"} 2',
    'thalamus_read_standby_workers{state="in_use"} 1',
    'thalamus_read_standby_lag_seconds 7.5',
    'thalamus_read_standby_skips_total 4',
    'thalamus_routed_reads_total{target="standby"} 25',
    'thalamus_routed_reads_total{target="primary"} 7',
    'thalamus_routed_reads_retried_total 2',
  ]) assert.ok(lines.has(line), `missing: ${line}\n${text}`);
  // Without a standby: zeros, and no lag line.
  const plain = renderPrometheus(mergeSnapshots([m.snapshot(pool, auth)]), { workersUp: 1, restarts: 0, reloads: 0 });
  assert.match(plain, /^thalamus_read_standby_workers\{state="configured"\} 0$/m);
  assert.not.match(plain, /thalamus_read_standby_lag_seconds/);
});

t.run();
