// Entry point (`npm start`): the primary (server/primary.ts) forks the workers
// (server/cluster-worker.ts); both start from this file, as node:cluster does.
// `--dev` (npm start and npm run dev pass it) allows the embedded PostgreSQL with the
// demo federation when no database is configured (server/start-mode.ts).
import './threadpool.js';
import cluster from 'node:cluster';
import { runPrimary } from './primary.js';
import { runClusterWorker } from './cluster-worker.js';

(cluster.isPrimary ? runPrimary({ dev: process.argv.slice(2).includes('--dev') }) : runClusterWorker()).catch((err) => {
  process.stderr.write(`thalamus: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
