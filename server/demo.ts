// `npm run demo`: migrations, then the demo federation, into the configured database.
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { prepareDatabase } from './database.js';
import { createPool } from '../lib/db/pool.js';
import { loadDemo } from '../lib/db/migrate.js';

const config = loadConfig();
const log = createLogger(config.logLevel);
const db = await prepareDatabase(config, log);
const pool = createPool({ url: db.url, size: 1 });
await loadDemo(pool);
await pool.end();
await db.stop();
log.info('demo federation loaded');
