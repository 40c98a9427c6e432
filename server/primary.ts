// The primary process (uWSGI's master): reads the configuration, owns the database (the
// embedded PostgreSQL is started before the first fork and stopped last), runs the
// workers through the supervisor (supervisor.ts), reloads them on SIGHUP, drains them on
// SIGTERM/SIGINT, and runs the admin listener (readiness.ts, cluster-metrics.ts).
import { randomBytes } from 'node:crypto';
import { loadConfig, ConfigError, unknownVariables, type Config } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { loadAcl, AclError, type Acl } from '../lib/auth/acl.js';
import { prepareDatabase } from './database.js';
import { startMode, type StartMode } from './start-mode.js';
import { adminRoles, watchDemoPasswords } from './demo-passwords.js';
import { loadTls, TlsError } from './tls.js';
import { startAdmin, type Admin } from './admin.js';
import { sdNotify } from './notify.js';
import { createProbes, ready, demoReadiness } from './readiness.js';
import { createClusterMetrics } from './cluster-metrics.js';
import { createSupervisor, type Supervisor } from './supervisor.js';
import { createRerun } from '../lib/tasks.js';
import { listenFailure } from './listen-failure.js';

/**
 * Everything start-up and reload check before a worker is forked; throws a message.
 * `warnings`: what the files and environment hold that changes nothing (deprecated keys,
 * misspelt THALAMUS_ variables, roles.cfg grants of unknown ACL names or methods),
 * logged rather than refused, so that an
 * upstream or older file keeps starting; `thalamus config check` refuses the latter.
 */
function checkConfig(): { config: Config; acl: Acl; warnings: string[] } {
  const config = loadConfig();
  const grants: string[] = [];
  const acl = loadAcl(config.acl, grants);
  loadTls(config);
  return { config, acl, warnings: [...config.deprecations, ...unknownVariables(), ...grants.map((g) => `${g}: it grants nothing`)] };
}

const isKnown = (err: unknown) => err instanceof ConfigError || err instanceof AclError || err instanceof TlsError;

export interface PrimaryOptions {
  /** --dev: without a configured database, run the embedded PostgreSQL with the demo federation (start-mode.ts). */
  dev?: boolean;
}

export async function runPrimary(opts: PrimaryOptions = {}): Promise<void> {
  let config: Config;
  let admins: string[];
  let mode: StartMode;
  let warnings: string[];
  try {
    let acl: Acl;
    ({ config, acl, warnings } = checkConfig());
    admins = adminRoles(acl);
    mode = startMode(config, { dev: opts.dev ?? false, who: 'server' });
  } catch (err) {
    if (!isKnown(err)) throw err;
    process.stderr.write(`thalamus: configuration error: ${(err as Error).message}\n`);
    process.exit(78);
  }
  const log = createLogger(config.logLevel);
  for (const line of warnings) log.warn(line);
  for (const line of mode.warnings) log.warn(line);
  if (mode.embedded) log.warn('development start (--dev): an embedded PostgreSQL, with the demo federation when it is empty; never for production');
  // A stop signal while the database is being prepared (initdb, migrations) is acted on
  // once it is up, so an embedded PostgreSQL started meanwhile is stopped, not left
  // behind; SIGHUP is moot then (the configuration was just read) but must not kill us.
  let early: NodeJS.Signals | undefined;
  const onEarly = (signal: NodeJS.Signals) => { if (signal !== 'SIGHUP') early ??= signal; };
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(s, onEarly);
  const db = await prepareDatabase(config, log, mode.embedded);
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.off(s, onEarly);
  const demo = watchDemoPasswords(db.url, () => admins, log);
  // Workers must share one secret (CSRF tokens made by one are checked by another).
  const generatedSecret = randomBytes(32).toString('hex');
  const probes = createProbes();
  let stopping = false;
  const metrics = createClusterMetrics(() => supervisor);
  const supervisor: Supervisor = createSupervisor({
    log,
    env: () => ({ THALAMUS_POSTGRESQL_URI: db.url, THALAMUS_SECRET_KEY: config.secretKey || generatedSecret, NOTIFY_SOCKET: undefined }),
    graceMs: () => config.shutdownTimeout,
    onProbed: (result) => probes.answer(result),
    onRetired: (snapshot) => metrics.retire(snapshot),
    onCrashLoop: () => void shutdown('crash loop', 1),
  });

  async function reload(): Promise<void> {
    let next: Config;
    let warnings: string[];
    try {
      let acl: Acl;
      ({ config: next, acl, warnings } = checkConfig());
      admins = adminRoles(acl);
    } catch (err) {
      if (!isKnown(err)) throw err;
      log.error(`reload refused, the running workers stay: ${(err as Error).message}`);
      return;
    }
    if (next.adminListen.port !== config.adminListen.port || next.adminListen.host !== config.adminListen.host) log.warn('ADMIN_LISTEN changes take effect at the next restart');
    if (next.postgresqlUri && next.postgresqlUri !== db.url) log.warn('POSTGRESQL_URI changes take effect at the next restart');
    config = next;
    log.level = next.logLevel;
    for (const line of warnings) log.warn(line);
    log.info({ processes: next.processes }, 'reloading: replacing workers one at a time');
    try {
      await supervisor.replace(next.processes);
    } catch (err) {
      log.error(`reload stopped, a new worker failed: ${(err as Error).message}`);
      return;
    }
    if (stopping) return;
    metrics.reloaded();
    log.info('reload complete');
    sdNotify(log, '--status=serving (reloaded)');
  }
  // A SIGHUP during a reload asks for one more once it ends (the files may have changed again).
  const reloads = createRerun(reload, { stop: () => stopping });
  const requestReload = () => { void reloads.request(); };

  let admin: Admin | undefined;
  async function shutdown(reason: string, code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    sdNotify(log, 'STOPPING=1');
    log.info({ reason }, 'shutting down: draining workers');
    await supervisor.drainAll();
    await admin?.close();
    await demo.close();
    await db.stop().catch((err: Error) => log.error(`stopping the embedded PostgreSQL failed: ${err.message}`));
    log.info('stopped');
    process.exit(code);
  }

  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGHUP', requestReload);
  if (early) {
    await shutdown(early, 0);
    return;
  }

  try {
    admin = await startAdmin(config.adminListen, {
      ready: () => (stopping ? Promise.reject(new Error('shutting down')) : ready(supervisor, probes).then(() => demoReadiness(demo, mode))),
      metrics: () => metrics.render(),
    }).catch((err: unknown) => { throw new Error(listenFailure(err, config.adminListen, 'ADMIN_LISTEN') ?? (err as Error).message); });
    await supervisor.start(config.processes);
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
