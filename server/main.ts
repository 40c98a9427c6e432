// Entry point: configuration, database, then the HTTP server. Stops cleanly on
// SIGTERM/SIGINT: the server drains, then the embedded database stops last.
import './threadpool.js';
import { loadConfig, ConfigError } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { AclError } from '../lib/auth/acl.js';
import { prepareDatabase } from './database.js';
import { startWorker } from './worker.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`thalamus: configuration error: ${err.message}\n`); process.exit(78); }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const db = await prepareDatabase(config, log);
  let worker;
  try {
    worker = await startWorker(config, db.url, log);
  } catch (err) {
    await db.stop();
    if (err instanceof AclError) { log.fatal(err.message); process.exit(78); }
    throw err;
  }
  log.info({ listen: `http://${worker.address.address}:${worker.address.port}`, embedded: db.embedded }, 'thalamus listening');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await worker.close();
    await db.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`thalamus: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
