// The primary process (uWSGI's master): owns the database (the embedded PostgreSQL is
// started before the first fork and stopped last), forks PROCESSES workers sharing the
// port, re-forks a dead one with backoff, stops on a crash loop, replaces the workers one
// at a time on SIGHUP, drains them on SIGTERM/SIGINT, and runs the admin listener.
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { loadConfig, ConfigError, type Config } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { loadAcl, AclError } from '../lib/auth/acl.js';
import { emptySnapshot, mergeSnapshots, countersOnly, renderPrometheus, type Snapshot } from '../lib/metrics.js';
import { prepareDatabase } from './database.js';
import { loadTls, TlsError } from './tls.js';
import { startAdmin, type Admin } from './admin.js';
import { sdNotify } from './notify.js';
import { createRespawnPolicy, CRASH_WINDOW_MS } from './respawn.js';
import { isMessage, type MetricsMessage, type ProbeResult, type ToWorker } from './ipc.js';
import { createProbes } from './readiness.js';

/** A new worker must be listening within this time. */
const START_TIMEOUT_MS = 30_000;
const SNAPSHOT_WAIT_MS = 500;
const READY_TIMEOUT_MS = 1000;

interface Entry {
  worker: ClusterWorker;
  /** starting: not yet listening; up: serving; retiring: told to drain. */
  state: 'starting' | 'up' | 'retiring';
  /** Forked to replace a dead worker: a failure to start counts as a death too. */
  respawn: boolean;
  snapshot?: Snapshot;
  /** Waiting for this worker's next metrics message. */
  waiters: (() => void)[];
  exited: Promise<void>;
}

/** Everything start-up and reload check before a worker is forked; throws a message. */
function checkConfig(): Config {
  const config = loadConfig();
  loadAcl(config.acl);
  loadTls(config);
  return config;
}

const isKnown = (err: unknown) => err instanceof ConfigError || err instanceof AclError || err instanceof TlsError;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runPrimary(): Promise<void> {
  let config: Config;
  try {
    config = checkConfig();
  } catch (err) {
    if (!isKnown(err)) throw err;
    process.stderr.write(`thalamus: configuration error: ${(err as Error).message}\n`);
    process.exit(78);
  }
  const log = createLogger(config.logLevel);
  for (const line of config.deprecations) log.warn(line);
  // A stop signal while the database is being prepared (initdb, migrations) is acted on
  // once it is up, so an embedded PostgreSQL started meanwhile is stopped, not left
  // behind; SIGHUP is moot then (the configuration was just read) but must not kill us.
  let early: NodeJS.Signals | undefined;
  const onEarly = (signal: NodeJS.Signals) => { if (signal !== 'SIGHUP') early ??= signal; };
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, onEarly);
  const db = await prepareDatabase(config, log);
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.off(s, onEarly);
  // Workers must share one secret (CSRF tokens made by one are checked by another).
  const generatedSecret = randomBytes(32).toString('hex');
  const probes = createProbes();

  const entries = new Map<number, Entry>();
  let retired = emptySnapshot();
  let restarts = 0;
  let reloads = 0;
  let stopping = false;
  const deaths = createRespawnPolicy();

  const send = (e: Entry, m: ToWorker) => { if (e.worker.isConnected()) e.worker.send(m); };

  function fork(respawn = false): Entry {
    const worker = cluster.fork({
      THALAMUS_POSTGRESQL_URI: db.url,
      THALAMUS_SECRET_KEY: config.secretKey || generatedSecret,
      NOTIFY_SOCKET: undefined,
    });
    const entry: Entry = { worker, state: 'starting', respawn, waiters: [], exited: Promise.resolve() };
    entry.exited = new Promise((resolve) => worker.once('exit', (code, signal) => { onExit(entry, code, signal); resolve(); }));
    // A message to a worker that is just exiting fails with EPIPE; its exit is handled.
    worker.on('error', (err) => log.warn(`worker ${worker.process.pid}: ${err.message}`));
    worker.on('message', (m) => {
      if (isMessage<ProbeResult>(m, 'thalamus:probed')) { probes.answer(m); return; }
      if (!isMessage<MetricsMessage>(m, 'thalamus:metrics')) return;
      entry.snapshot = m.snapshot;
      entry.waiters.splice(0).forEach((w) => w());
    });
    entries.set(worker.id, entry);
    return entry;
  }

  /** Resolves once the worker listens; rejects if it exits or takes too long first. */
  function listening(e: Entry): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { e.worker.process.kill('SIGKILL'); reject(new Error('did not listen in time')); }, START_TIMEOUT_MS);
      e.worker.once('listening', () => { clearTimeout(timer); e.state = 'up'; resolve(); });
      void e.exited.then(() => { clearTimeout(timer); reject(new Error(`exited with code ${e.worker.process.exitCode}`)); });
    });
  }

  function onExit(e: Entry, code: number | null, signal: string | null): void {
    entries.delete(e.worker.id);
    e.waiters.splice(0).forEach((w) => w());
    if (e.snapshot) retired = mergeSnapshots([retired, countersOnly(e.snapshot)]);
    if (stopping || e.state === 'retiring' || (e.state === 'starting' && !e.respawn)) return;
    log.error({ worker: e.worker.process.pid, code, signal }, 'worker died');
    const next = deaths.record(Date.now());
    if (next.stop) {
      log.fatal(`crash loop: ${next.deaths} worker deaths within ${CRASH_WINDOW_MS / 1000} s; stopping`);
      void shutdown('crash loop', 1);
      return;
    }
    const delay = next.delayMs;
    setTimeout(() => {
      if (stopping) return;
      restarts++;
      listening(fork(true)).catch((err: Error) => log.error(`replacement worker failed: ${err.message}`));
    }, delay);
  }

  /** Drains one worker and waits for it to exit (killing it if it overstays). */
  async function retire(e: Entry, graceMs: number): Promise<void> {
    e.state = 'retiring';
    send(e, { type: 'thalamus:drain', graceMs });
    const timer = setTimeout(() => e.worker.process.kill('SIGKILL'), graceMs + 5000);
    await e.exited;
    clearTimeout(timer);
  }

  let reloading: Promise<void> | undefined;
  let reloadAgain = false;
  async function reload(): Promise<void> {
    let next: Config;
    try {
      next = checkConfig();
    } catch (err) {
      if (!isKnown(err)) throw err;
      log.error(`reload refused, the running workers stay: ${(err as Error).message}`);
      return;
    }
    if (next.adminListen.port !== config.adminListen.port || next.adminListen.host !== config.adminListen.host) log.warn('ADMIN_LISTEN changes take effect at the next restart');
    if (next.postgresqlUri && next.postgresqlUri !== db.url) log.warn('POSTGRESQL_URI changes take effect at the next restart');
    config = next;
    log.level = next.logLevel;
    for (const line of next.deprecations) log.warn(line);
    log.info({ processes: next.processes }, 'reloading: replacing workers one at a time');
    const old = [...entries.values()].filter((e) => e.state !== 'retiring');
    for (let i = 0; i < Math.max(old.length, next.processes) && !stopping; i++) {
      if (i < next.processes) {
        const fresh = fork();
        try {
          await listening(fresh);
        } catch (err) {
          log.error(`reload stopped, a new worker failed: ${(err as Error).message}`);
          return;
        }
      }
      if (i < old.length && entries.has(old[i]!.worker.id)) await retire(old[i]!, config.shutdownTimeout);
    }
    reloads++;
    log.info('reload complete');
    sdNotify(log, '--status=serving (reloaded)');
  }
  function requestReload(): void {
    if (stopping) return;
    if (reloading) { reloadAgain = true; return; }
    reloading = reload().finally(() => {
      reloading = undefined;
      if (reloadAgain) { reloadAgain = false; requestReload(); }
    });
  }

  let admin: Admin | undefined;
  async function shutdown(reason: string, code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    sdNotify(log, 'STOPPING=1');
    log.info({ reason }, 'shutting down: draining workers');
    await Promise.all([...entries.values()].map((e) => retire(e, config.shutdownTimeout)));
    await admin?.close();
    await db.stop().catch((err: Error) => log.error(`stopping the embedded PostgreSQL failed: ${err.message}`));
    log.info('stopped');
    process.exit(code);
  }

  async function ready(): Promise<void> {
    if (stopping) throw new Error('shutting down');
    const up = [...entries.values()].filter((e) => e.state === 'up');
    if (!up.length) throw new Error('no worker is serving');
    // Every serving worker's own pool, since the OS spreads requests over all of them.
    const results = await Promise.all(up.map((e) => probes.ask(e.worker, READY_TIMEOUT_MS).then(() => undefined, (err: Error) => ({ pid: e.worker.process.pid, err }))));
    const failed = results.filter((r) => r !== undefined);
    if (failed.length) throw new Error(`${failed[0]!.err.message} (${failed.length} of ${up.length} workers: ${failed.map((f) => f.pid).join(', ')})`);
  }

  async function metrics(): Promise<string> {
    const live = [...entries.values()];
    await Promise.all(live.map((e) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SNAPSHOT_WAIT_MS);
      e.waiters.push(() => { clearTimeout(timer); resolve(); });
      send(e, { type: 'thalamus:snapshot' });
    })));
    const current = [...entries.values()].flatMap((e) => (e.snapshot ? [e.snapshot] : []));
    const up = [...entries.values()].filter((e) => e.state === 'up').length;
    return renderPrometheus(mergeSnapshots([retired, ...current]), { workersUp: up, restarts, reloads });
  }

  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGHUP', requestReload);
  if (early) {
    await shutdown(early, 0);
    return;
  }

  try {
    admin = await startAdmin(config.adminListen, { ready, metrics });
    const first = Array.from({ length: config.processes }, fork);
    await Promise.all(first.map(listening));
  } catch (err) {
    log.fatal(`start-up failed: ${(err as Error).message}`);
    await shutdown('start-up failed', 1);
    return;
  }
  const scheme = config.tlsCert ? 'https' : 'http';
  log.info({
    listen: `${scheme}://${config.listen.host}:${config.listen.port}`,
    admin: `http://${admin.address.address}:${admin.address.port}`,
    processes: config.processes,
    embedded: db.embedded,
  }, 'thalamus listening');
  sdNotify(log, '--ready', `--status=serving with ${config.processes} workers`);
}
