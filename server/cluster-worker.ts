// A worker process of the cluster: one server (server/http-server.ts) on the shared port,
// reporting its metrics to the primary and draining when the primary says so.
import { loadConfig, ConfigError } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { createRequestMetrics, readCounts } from '../lib/metrics.js';
import { startHttpServer, type HttpServer } from './http-server.js';
import { probePool } from '../lib/db/pool.js';
import { listenFailure } from './listen-failure.js';
import { isMessage, type DrainRequest, type MetricsMessage, type ProbeRequest, type ProbeResult, type StartFailed } from './ipc.js';

/** How often a worker reports its metrics without being asked. */
const REPORT_MS = 1000;

export async function runClusterWorker(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`thalamus: configuration error: ${err.message}\n`); process.exit(78); }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const metrics = createRequestMetrics();
  let worker: HttpServer;
  try {
    worker = await startHttpServer(config, config.postgresqlUri, log, { observe: metrics.observe });
  } catch (err) {
    const reason = listenFailure(err, config.listen, 'LISTEN');
    if (reason && process.send) {
      // The primary says it once, as the reason the start failed: no stack per worker.
      process.send({ type: 'thalamus:start-failed', reason } satisfies StartFailed, () => process.exit(1));
      return;
    }
    log.fatal({ err }, `worker failed to start: ${(err as Error).message}`);
    process.exit(1);
  }
  const { pool, auth, reads } = worker.services;
  const message = (): MetricsMessage => ({
    type: 'thalamus:metrics',
    snapshot: metrics.snapshot({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }, { ...auth.stats, ...worker.services.paths }, readCounts(reads.stats())),
  });
  const report = () => { if (process.connected) process.send!(message()); };
  const timer = setInterval(report, REPORT_MS);
  timer.unref();

  let draining = false;
  const drain = async (graceMs: number) => {
    if (draining) return;
    draining = true;
    clearInterval(timer);
    await worker.close(graceMs);
    if (!process.connected) process.exit(0);
    process.send!(message(), () => process.exit(0));
  };
  const probe = (m: ProbeRequest) => {
    const answer = (result: ProbeResult) => { if (process.connected) process.send!(result); };
    probePool(pool, m.timeoutMs).then(
      () => answer({ type: 'thalamus:probed', id: m.id }),
      (err: Error) => answer({ type: 'thalamus:probed', id: m.id, error: err.message }),
    );
  };
  process.on('message', (m) => {
    if (isMessage(m, 'thalamus:snapshot')) report();
    else if (isMessage<DrainRequest>(m, 'thalamus:drain')) void drain(m.graceMs);
    else if (isMessage<ProbeRequest>(m, 'thalamus:probe')) probe(m);
  });
  // Ctrl-C reaches the whole process group; the primary coordinates the shutdown.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void drain(config.shutdownTimeout));
  // The primary is gone: nobody will route to us or restart us.
  process.on('disconnect', () => void drain(config.shutdownTimeout));
  log.debug({ listen: `${worker.address.address}:${worker.address.port}` }, 'worker listening');
}
