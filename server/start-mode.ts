// Which database a start may use. The embedded PostgreSQL, with the demo federation
// loaded into it while it is empty, is for development: it runs only when asked for
// (`--dev`, which `npm start`, `npm run dev` and `npm run demo` pass) and no sign of
// production is present. Without a configured database anything else is refused (exit
// 78): a production start must never serve the demo accounts, whose passwords are
// public, and a command must never write into a database nobody will ever read.
import { existsSync } from 'node:fs';
import { ConfigError, defaultConfigFile, type Config } from '../lib/config.js';

export interface StartMode {
  /** What makes this a production start; empty in development. /readyz is stricter then. */
  production: string[];
  /** No database is configured and --dev asked for the embedded one. */
  embedded: boolean;
  /** What to log as a warning at start. */
  warnings: string[];
}

const NO_DATABASE = 'no database is configured (set DATABASE_URL, or POSTGRESQL_URI in the configuration file)';

/**
 * Signs that this process runs in production: NODE_ENV=production (the shipped unit sets
 * it), or systemd's variables. INVOCATION_ID alone is also set in the shells of a desktop
 * terminal (itself a systemd user service), so it counts only when standard input is no
 * terminal, as under a service; NOTIFY_SOCKET is set for Type=notify services only.
 */
export function productionSigns(env: NodeJS.ProcessEnv, terminal: boolean): string[] {
  const signs: string[] = [];
  if (env.NODE_ENV === 'production') signs.push('NODE_ENV=production');
  if (env.NOTIFY_SOCKET) signs.push('started by systemd: NOTIFY_SOCKET is set');
  else if (env.INVOCATION_ID && !terminal) signs.push('started by systemd: INVOCATION_ID is set');
  return signs;
}

/** THALAMUS_CONFIG naming a file that does not exist: someone configured this install, and the file is gone. */
export function missingConfigFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.THALAMUS_CONFIG) return undefined;
  const file = defaultConfigFile(env);
  return existsSync(file) ? undefined : `THALAMUS_CONFIG names ${file}, which does not exist`;
}

export interface StartOptions {
  /** --dev: use the embedded PostgreSQL when no database is configured. */
  dev: boolean;
  /** The server (which loads the demo federation into an empty embedded database) or a command of the CLI. */
  who: 'server' | 'cli';
  env?: NodeJS.ProcessEnv;
  /** Whether standard input is a terminal (default: this process's). */
  terminal?: boolean;
}

/** The start's mode; throws ConfigError (exit 78) naming what is missing when it may not start. */
export function startMode(config: Config, opts: StartOptions): StartMode {
  const env = opts.env ?? process.env;
  const missing = missingConfigFile(env);
  const production = [...productionSigns(env, opts.terminal ?? Boolean(process.stdin.isTTY)), ...(missing ? [missing] : [])];
  const warnings = missing ? [`${missing}: only defaults and the environment are read`] : [];
  if (config.postgresqlUri) return { production, embedded: false, warnings };
  if (production.length) throw new ConfigError(`${NO_DATABASE}; this is a production start (${production.join('; ')}), which never uses the embedded PostgreSQL and its demo data`);
  if (!opts.dev) {
    throw new ConfigError(opts.who === 'server'
      ? `${NO_DATABASE}; the embedded PostgreSQL with the demo federation runs only when asked for with --dev (npm start, npm run dev)`
      : `${NO_DATABASE}; the embedded PostgreSQL runs only when asked for with --dev`);
  }
  return { production, embedded: true, warnings };
}
