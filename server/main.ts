// Entry point (`npm start`): the primary (server/primary.ts) forks the workers
// (server/cluster-worker.ts); both start from this file, as node:cluster does.
import './threadpool.js';
import cluster from 'node:cluster';
import { runPrimary } from './primary.js';
import { runClusterWorker } from './cluster-worker.js';

(cluster.isPrimary ? runPrimary() : runClusterWorker()).catch((err) => {
  process.stderr.write(`thalamus: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
