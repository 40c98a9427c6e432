// The bench-only launcher: a node:cluster primary forking WORKERS processes that share
// one port, each running either Thalamus (server/http-server.ts startHttpServer, default
// configuration, logs discarded) or the baseline. Prints one JSON line
// `{"ready": true, "pids": [...]}` once every worker listens; SIGTERM stops all.
//   node dist-bench/bench/cluster.js thalamus|baseline   (built by bench/launch.ts)
// Environment: DATABASE_URL, BENCH_PORT, BENCH_WORKERS (2), THALAMUS_POOL_SIZE.
import cluster from 'node:cluster';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { startHttpServer } from '../server/http-server.js';
import { startBaseline } from './baseline.js';

const mode = process.argv[2] === 'baseline' ? 'baseline' : 'thalamus';
const port = Number(process.env.BENCH_PORT ?? 8090);
const workers = Number(process.env.BENCH_WORKERS ?? 2);
const databaseUrl = process.env.DATABASE_URL ?? '';

if (cluster.isPrimary) {
  // Workers' stdout (the request log) is discarded, as a log shipper would consume it.
  cluster.setupPrimary({ stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const pids: number[] = [];
  for (let i = 0; i < workers; i++) {
    const w = cluster.fork();
    w.on('message', (m: { listening?: boolean }) => {
      if (m.listening) pids.push(w.process.pid!);
      if (pids.length === workers) process.stdout.write(`${JSON.stringify({ ready: true, pids })}\n`);
    });
  }
  cluster.on('exit', (w, code) => { if (!stopping) { process.stderr.write(`bench: worker ${w.process.pid} exited with ${code}\n`); process.exit(1); } });
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 3000).unref();
    cluster.on('exit', () => { if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0); });
  });
} else {
  let close: () => Promise<void>;
  if (mode === 'baseline') {
    const server = await startBaseline(databaseUrl, port, Number(process.env.THALAMUS_POOL_SIZE ?? 10));
    close = () => new Promise((r) => server.close(() => r()));
  } else {
    const config = { ...loadConfig(), listen: { host: '127.0.0.1', port } };
    const worker = await startHttpServer(config, databaseUrl, createLogger(config.logLevel));
    close = () => worker.close(2000);
  }
  process.send!({ listening: true });
  process.on('SIGTERM', () => void close().then(() => process.exit(0)));
}
