// `thalamus config check`: reads thalamus.cfg, roles.cfg and the TLS files as a start
// would, and prints every effective value with where it came from (file and line,
// environment variable, or default). Secrets are never printed: SECRET_KEY shows its
// length, a database URL its password as ***. Deprecated keys are warned of; a roles.cfg
// granting an ACL name no route checks, or under an unknown method, is exit 78.
import type { Command } from 'commander';
import { ConfigError, configKeys, defaultConfigFile, loadConfigWithSources, unknownVariables, type Config } from '../../../lib/config.js';
import { loadTls, TlsError } from '../../tls.js';
import { missingConfigFile } from '../../start-mode.js';
import { CliError, EXIT } from '../errors.js';
import { readAcl } from '../runtime.js';

/** A connection string with its password (userinfo or `password=` parameter) masked. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString().replace('%2A%2A%2A', '***');
  } catch {
    // Several hosts (h1:5432,h2:5432), which URL does not read, or a libpq key=value string.
    if (/^postgres(?:ql)?:\/\//i.test(url)) return url.replace(/^([^:]+:\/\/[^:@/?#]*:)[^@/?#]*@/, '$1***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
    return url.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***');
  }
}

function show(key: string, value: unknown): string {
  if (key === 'SECRET_KEY') return value ? `(set, ${String(value).length} characters)` : '(empty: a random key at each start)';
  if (key === 'POSTGRESQL_URI') return value ? maskUrl(String(value)) : '(empty: the embedded PostgreSQL)';
  if (key === 'READ_DATABASE_URL') return value ? maskUrl(String(value)) : '(empty: every read from the primary)';
  if (value instanceof RegExp) return value.source;
  if (Array.isArray(value)) return value.join(' ');
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value && typeof value === 'object' && 'port' in value) {
    const l = value as Config['listen'];
    return `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
  }
  return value === '' ? '(empty)' : String(value);
}

/** What a valid configuration may still hold that a production install should not. */
function productionWarnings(c: Config): string[] {
  const out: string[] = [];
  if (!c.secretKey) out.push('SECRET_KEY is empty: each start makes a random key, so password-form tokens do not survive a restart and differ between instances');
  if (c.corsOrigins.includes('*')) out.push("CORS_ORIGINS is *: scripts of any web site may call the API from a browser (with the credentials they hold); name the portal's origins");
  if (!c.postgresqlUri) out.push('no database is configured (DATABASE_URL or POSTGRESQL_URI): only `--dev` starts, on an embedded PostgreSQL');
  return out;
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('inspect the configuration');
  config.command('check')
    .description('check thalamus.cfg, roles.cfg and the TLS files; print every value with its source')
    .action(() => {
      const file = defaultConfigFile();
      // A file named on purpose that is not there: the install is not what its operator thinks.
      const missing = missingConfigFile();
      if (missing) throw new CliError(`configuration error: ${missing}`, EXIT.config);
      let loaded;
      try {
        loaded = loadConfigWithSources(file);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(`configuration error: ${err.message}`, EXIT.config);
        throw err;
      }
      const { config: c, sources } = loaded;
      // What a start logs as warnings: deprecated keys, read under their new meaning.
      for (const line of c.deprecations) process.stderr.write(`thalamus: warning: ${line}\n`);
      for (const line of unknownVariables()) process.stderr.write(`thalamus: warning: ${line}\n`);
      const grants: string[] = [];
      const acl = readAcl(c, grants);
      // A grant of a name no route checks, or under no method, allows nothing: a typo an
      // operator wants to hear of before a user is refused (a start only warns of it).
      if (grants.length) {
        for (const g of grants.slice(0, -1)) process.stderr.write(`thalamus: configuration error: ${g}\n`);
        throw new CliError(`configuration error: ${grants.at(-1)!}`, EXIT.config);
      }
      try {
        loadTls(c);
      } catch (err) {
        if (err instanceof TlsError) throw new CliError(`configuration error: ${err.message}`, EXIT.config);
        throw err;
      }
      const rows = configKeys().map(({ key, field }) => [key, show(key, c[field]), (sources.get(key) ?? '').replace(/^default of .*/, 'default')] as const);
      const width = (i: 0 | 1) => Math.min(48, Math.max(...rows.map((r) => r[i].length)));
      const out = [`configuration file: ${c.file || `${file} (not found: defaults and environment only)`}`];
      for (const [key, value, source] of rows) out.push(`${key.padEnd(width(0))}  ${value.padEnd(width(1))}  ${source}`);
      out.push(`roles: ${c.acl}: ${[...acl.keys()].join(', ')}`);
      // Last, once the files are known good: what is valid but unfit for production.
      for (const line of productionWarnings(c)) process.stderr.write(`thalamus: warning: ${line}\n`);
      out.push('configuration OK');
      process.stdout.write(out.join('\n') + '\n');
    });
}
