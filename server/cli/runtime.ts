// What the commands that touch the federation share: the configuration (a bad one is
// exit 78), the database opened, migrated and closed again, and who the operator is for
// the audit rows. A command's password settings come from its configuration
// (lib/auth/password-settings.ts passwordSettingsOf), as a worker's do.
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import type pg from 'pg';
import { ConfigError, loadConfig, type Config } from '../../lib/config.js';
import { AclError, loadAcl, type Acl } from '../../lib/auth/acl.js';
import { createPool, closePool } from '../../lib/db/pool.js';
import { migrate } from '../../lib/db/migrate.js';
import type { AuditSource } from '../../lib/audit/entry.js';
import type { Logger } from '../../lib/log.js';
import { openDatabase } from '../database.js';
import { startMode } from '../start-mode.js';
import { CliError, EXIT } from './errors.js';

/** The configuration; a bad one is exit 78. */
export function readConfig(): Config {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`configuration error: ${err.message}`, EXIT.config);
    throw err;
  }
  return config;
}

/** The roles file; with `problems`, what grants nothing (unknown ACL names or methods) goes there (lib/auth/acl.ts). */
export function readAcl(config: Config, problems?: string[]): Acl {
  try {
    return loadAcl(config.acl, problems);
  } catch (err) {
    if (err instanceof AclError) throw new CliError(`configuration error: ${err.message}`, EXIT.config);
    throw err;
  }
}

/**
 * The operator, for the audit trail: the OS account, prefixed so it is never taken for
 * a federation account (`os:root`), with the account sudo was run from when it was.
 */
export function operator(route: string): AuditSource {
  const name = userInfo().username;
  const sudo = process.env.SUDO_USER && process.env.SUDO_USER !== name ? ` sudo:${process.env.SUDO_USER}` : '';
  return { actor: `os:${name}${sudo}`, roles: [], route, client: null, requestId: randomUUID() };
}

export interface DatabaseOptions {
  /** Apply pending migrations first (default true): a fresh database then has its tables. */
  migrate?: boolean;
}

/** What the global options say: where to log, and whether --dev allows the embedded PostgreSQL. */
export interface CommandContext { log: Logger; dev: boolean }

/** The global options every command reads: main.ts parses them and imports the commands, so the type lives here. */
export interface Globals extends CommandContext { verbose: boolean }

/**
 * Runs `fn` with a pool on the configured database (or, with --dev outside production,
 * the embedded one, started for the command and stopped after), closing both whatever
 * happens. Without either it is exit 78 before anything starts: a command must not
 * write into an embedded database nobody asked for. Ctrl-C or SIGTERM ends the command
 * with the embedded PostgreSQL stopped and any open transaction rolled back (its
 * connection closes).
 */
export async function withDatabase<T>(config: Config, context: CommandContext, fn: (pool: pg.Pool) => Promise<T>, opts: DatabaseOptions = {}): Promise<T> {
  const { log } = context;
  let embedded: boolean;
  try {
    embedded = startMode(config, { dev: context.dev, who: 'cli' }).embedded;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`configuration error: ${err.message}`, EXIT.config);
    throw err;
  }
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`thalamus: stopped by ${signal}; nothing more was written\n`);
    // process.exit runs the embedded PostgreSQL's exit hook (lib/db/embedded.ts).
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const db = await openDatabase(config, log, embedded);
  // An import is one transaction fed as fast as its input comes: no idle timeout.
  const pool = createPool({ url: db.url, size: 2, applicationName: 'thalamus-cli', idleInTransactionTimeout: 0 });
  try {
    if (opts.migrate !== false) {
      const applied = await migrate(pool);
      if (applied.length) log.info(`migrations applied: ${applied.join(', ')}`);
    }
    return await fn(pool);
  } finally {
    await closePool(pool).catch(() => undefined);
    await db.stop().catch((err: Error) => log.error(`stopping the embedded PostgreSQL failed: ${err.message}`));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
