// Getting a database ready before any worker starts: the configured server or, when the
// start mode allows it (start-mode.ts: --dev, never in production), an embedded one;
// migrations, and the demo data on a fresh embedded database.
import { ROOT, type Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { startEmbedded } from '../lib/db/embedded.js';
import { pgAccount, canReach } from '../lib/db/pg-account.js';
import { embeddedHome, relocatedDataDir } from '../lib/db/embedded-home.js';
import { migrate, loadDemo, isEmpty } from '../lib/db/migrate.js';
import { createPool } from '../lib/db/pool.js';

export interface Database { url: string; embedded: boolean; stop(): Promise<void> }

/**
 * DATA_DIR when it was given; else its default, unless we are root and user postgres
 * cannot reach it (a checkout under /root): then a folder of Thalamus's own.
 */
function embeddedDataDir(config: Config, log: Logger): string {
  if (config.dataDirGiven) return config.dataDir;
  const account = pgAccount();
  if (!account || canReach(config.dataDir, account)) return config.dataDir;
  const dir = relocatedDataDir(embeddedHome(account), ROOT);
  log.info(`user ${account.name} cannot reach ${config.dataDir}, so the embedded PostgreSQL keeps its data in ${dir} (set DATA_DIR to choose)`);
  return dir;
}

/** The configured database, or the embedded one started when `embedded` (start-mode.ts); nothing is migrated or loaded. */
export async function openDatabase(config: Config, log: Logger, embedded: boolean): Promise<Database> {
  if (config.postgresqlUri) return { url: config.postgresqlUri, embedded: false, stop: async () => undefined };
  // startMode refuses this case first; never start an embedded database by default.
  if (!embedded) throw new Error('no database is configured, and the embedded PostgreSQL was not asked for');
  const e = await startEmbedded(embeddedDataDir(config, log), (m) => log.info(m));
  return { url: e.url, embedded: true, stop: e.stop };
}

export async function prepareDatabase(config: Config, log: Logger, embedded: boolean): Promise<Database> {
  const db = await openDatabase(config, log, embedded);
  // createPool: a multi-host URL's primary is found as the workers find it; its pool has
  // the 'error' listener without which a backend ended while idle would end the primary.
  const pool = createPool({ url: db.url, size: 1, applicationName: 'thalamus-migrate', idleInTransactionTimeout: 0 });
  try {
    const applied = await migrate(pool);
    if (applied.length) log.info({ applied }, 'migrations applied');
    if (db.embedded && (await isEmpty(pool))) {
      await loadDemo(pool);
      log.info('demo federation loaded into the empty embedded database');
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    await db.stop().catch(() => undefined);
    throw err;
  } finally {
    await pool.end().catch(() => undefined);
  }
  return db;
}
