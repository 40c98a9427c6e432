// `npm run demo`: migrations, then the demo federation, into the configured database,
// or with `--dev` (which the script passes) and no database configured, into the
// embedded one; never into an embedded one in production (server/start-mode.ts).
import { loadConfig, ConfigError } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { prepareDatabase } from './database.js';
import { startMode } from './start-mode.js';
import { createPool } from '../lib/db/pool.js';
import { loadDemo } from '../lib/db/migrate.js';

let embedded: boolean;
const config = loadConfig();
try {
  embedded = startMode(config, { dev: process.argv.slice(2).includes('--dev'), who: 'cli' }).embedded;
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`thalamus: configuration error: ${err.message}\n`);
  process.exit(78);
}
const log = createLogger(config.logLevel);
const db = await prepareDatabase(config, log, embedded);
const pool = createPool({ url: db.url, size: 1 });
await loadDemo(pool);
await pool.end();
await db.stop();
log.info('demo federation loaded');
