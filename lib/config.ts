// Configuration: etc/thalamus.cfg in upstream's `KEY = VALUE` syntax, each key
// overridable by the environment variable THALAMUS_<KEY>. One typed object.
import { readFileSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { argon2Weakness } from './auth/argon2-params.js';
import { parseNetwork } from './http/client.js';
import { parseDatabaseUrl, DatabaseUrlError } from './db/hosts.js';
import { ROOT } from './root.js';

export interface Config {
  /** PostgreSQL connection string (POSTGRESQL_URI or DATABASE_URL); empty: embedded PostgreSQL. Several hosts with target_session_attrs=read-write: the writable one is found, again after a failover (lib/db/target.ts). */
  postgresqlUri: string;
  /** A hot standby for listings, feed=normal pages and exports (READ_DATABASE_URL); empty: everything reads from the primary. */
  readDatabaseUrl: string;
  /** Seconds a read standby may lag behind the primary before reads skip it (READ_MAX_LAG). */
  readMaxLag: number;
  /** Path of the roles file (upstream format), absolute. */
  acl: string;
  /** Secret for signed tokens (CSRF, credential cache keys); empty: random per start. */
  secretKey: string;
  /** Host and port of the API listener. */
  listen: { host: string; port: number };
  /** Worker processes; 0 means one per available CPU. */
  processes: number;
  /** Largest accepted request body in bytes. */
  bodyLimit: number;
  /** Largest uploaded document in bytes (POST /personal_docs/:id/:page/:doc); the metadata is bounded by bodyLimit. */
  documentLimit: number;
  /** Uploads a worker reads and stores at once (one account at most half of them); more wait up to LISTING_QUEUE_TIMEOUT, then 503 UPLOADS_BUSY. */
  uploadConcurrency: number;
  /** Bytes of documents one person's book may hold (uploads through the API, whoever sends them); beyond, 413 DOCUMENT_QUOTA_EXCEEDED. 0: no bound. */
  documentQuotaBytes: number;
  /** Documents one person's book may hold; beyond, 413 DOCUMENT_QUOTA_EXCEEDED. 0: no bound. */
  documentQuotaCount: number;
  /** Default shape of listings: `rows` (`[[{...}], ...]`, upstream 0.9.16's, which the Federation portal reads) or `objects` (`[{...}, ...]`). */
  listingShape: 'rows' | 'objects';
  /** Answer a principal verified before in one round trip, its statement guarded (False: always read the login first). */
  singleRoundTrip: boolean;
  /** Deprecated keys that were set, with what replaces them: logged at start. */
  deprecations: string[];
  /** Deprecated: LEGACY_ROW_ARRAYS, read into listingShape when LISTING_SHAPE is not set. */
  legacyRowArrays: boolean;
  /** Allowed CORS origins; `*` allows any. */
  corsOrigins: string[];
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  logLevel: string;
  /** Directory for the embedded PostgreSQL and other state, absolute. */
  dataDir: string;
  /** DATA_DIR was set (file or environment): the data lives there, wherever that is. */
  dataDirGiven: boolean;
  /** Connections in each worker's pool. */
  poolSize: number;
  /** Largest `limit` a listing accepts. */
  pageLimitMax: number;
  /** Statement timeout for listings, in milliseconds (0: none). */
  listingTimeout: number;
  /** Listings open at once in one worker (streaming, or waiting on their clients). */
  listingsPerWorker: number;
  /** Listings open at once per account, in one worker. */
  listingsPerAccount: number;
  /** Listings open at once per client address, in one worker. */
  listingsPerAddress: number;
  /** Connections of each worker's pool that listings leave to other requests (listings keep at least one). */
  listingReserve: number;
  /** Milliseconds a listing waits for its turn before answering 503 LISTINGS_BUSY. */
  listingQueueTimeout: number;
  /** Milliseconds a listing keeps its connection while its client's socket stays full. */
  listingStallMs: number;
  /** Milliseconds a listing's client may read nothing before its socket is destroyed. */
  listingIdleTimeout: number;
  /** Target size of one batch of a listing (characters of JSON text; a batch stops past twice this). */
  listingBatchBytes: number;
  /** argon2id memory per hash in KiB (OWASP minimum: 19456 with 2 iterations). */
  argon2MemoryKib: number;
  /** argon2id iterations. */
  argon2TimeCost: number;
  /** argon2id lanes. */
  argon2Parallelism: number;
  /** Algorithm of new hashes: argon2id, or bcrypt while a rollback to upstream must stay possible. */
  passwordHash: 'argon2id' | 'bcrypt';
  /** Cheapest bcrypt cost accepted in a pre-made hash. */
  bcryptCostMin: number;
  /** Dearest bcrypt cost accepted in a pre-made hash, or verified in a stored one. */
  bcryptCostMax: number;
  /** Largest argon2 memory (KiB) accepted in a pre-made hash, or verified in a stored one. */
  argon2MaxMemoryKib: number;
  /** Largest argon2 iteration count accepted or verified. */
  argon2MaxTimeCost: number;
  /** Largest argon2 lane count accepted or verified. */
  argon2MaxParallelism: number;
  /** Fewest characters of a new password (NIST SP 800-63B asks for 8). */
  passwordMinLength: number;
  /** Pattern every person id in a URL or a login must match (checked before upper-casing). */
  personIdPattern: RegExp;
  /** Pattern a new page or document id must match (POST, upload, import); ids stored before it stay reachable. */
  recordIdPattern: RegExp;
  /** Failed logins of one account from one client address within LOCKOUT_WINDOW before that pair answers 429. */
  lockoutPairFailures: number;
  /** Failed logins of one account from all addresses within LOCKOUT_WINDOW before it answers 429 everywhere (a distributed attack). */
  lockoutAccountFailures: number;
  /** Failed logins from one client address, over all accounts, within LOCKOUT_WINDOW before it answers 429. */
  lockoutAddressFailures: number;
  /** Length of the failed-login window, and so of a lockout, in seconds. */
  lockoutWindow: number;
  /** Leading bits by which an IPv6 client is counted (32 to 64): 56, as one subscriber commonly holds a /56, so its 256 /64s are not 256 addresses. */
  lockoutIpv6Prefix: number;
  /** Days an address where an account logged in keeps working for it while the account is locked everywhere (only that pair's limit applies there); 0: never. */
  lockoutKnownAddressDays: number;
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** Days an audit row is kept; 0 keeps them forever. */
  auditRetentionDays: number;
  /** Host and port of the admin listener (/healthz, /readyz, /metrics), run by the primary. */
  adminListen: { host: string; port: number };
  /** Milliseconds in-flight requests get to finish on SIGTERM, SIGINT or a reload. */
  shutdownTimeout: number;
  /** PEM certificate (chain) file: with TLS_KEY, the workers serve HTTPS themselves. */
  tlsCert: string;
  /** PEM private key file of TLS_CERT. */
  tlsKey: string;
  /** Days a change row is kept (GET /changes, subscriptions); an older `since` answers 410. 0 keeps them forever. */
  changesRetentionDays: number;
  /** Milliseconds between heartbeat comments on an SSE change stream. */
  changesHeartbeatMs: number;
  /** Largest `limit` of GET /changes, and rows per catch-up page and per live read. */
  changesLimitMax: number;
  /** Longest `timeout` a longpoll may wait, in milliseconds (the default `timeout` is the smaller of this and 60000). */
  changesLongpollMaxMs: number;
  /** Bytes an SSE client may leave unread before it is sent a close event and dropped. */
  changesSseBuffer: number;
  /** Longpoll and SSE followers one worker serves at once; beyond, 503. */
  changesMaxStreams: number;
  /** Of those, the most one account holds (429 TOO_MANY_OWN_STREAMS beyond), so no account takes every slot. */
  changesStreamsPerAccount: number;
  /** The same per client address (an IPv6 client by its /64); higher, since a clinic's phones share one address behind NAT. */
  changesStreamsPerAddress: number;
  /** Seconds an SSE stream lasts at most: it then ends with a close event (`lifetime`) and the client reconnects, authenticating again. 0: no limit. */
  changesStreamMaxSeconds: number;
  /** Bytes of one page of the feed (normal, longpoll, SSE catch-up, a subscription's batch) with include_docs: it ends once its changes and documents pass this. */
  changesPageBytes: number;
  /** Changes per POST to a subscription's URL. */
  subscriptionBatch: number;
  /** Milliseconds a receiver has to answer one POST before it counts as failed. */
  subscriptionTimeoutMs: number;
  /** First wait after a failed POST, in milliseconds; it doubles up to SUBSCRIPTION_RETRY_MAX_MS. */
  subscriptionRetryMinMs: number;
  /** Longest wait between tries, in milliseconds. */
  subscriptionRetryMaxMs: number;
  /** Seconds a subscription may keep failing before it is paused (0: never paused). */
  subscriptionPauseAfter: number;
  /** Allow plain http:// subscription URLs to other hosts than loopback (health data would cross the network unencrypted). */
  subscriptionAllowHttp: boolean;
  /** Host names, addresses and CIDR ranges subscriptions may reach though not public (loopback, private, link-local...); others are refused. */
  subscriptionAllowHosts: string[];
  /** Subscriptions one worker holds and delivers at once; beyond, idle ones take turns. */
  subscriptionConcurrency: number;
  /** Subscriptions one account may hold; a POST beyond is 409 TOO_MANY_SUBSCRIPTIONS. */
  subscriptionMaxPerOwner: number;
  /** Upstream's Flask DEBUG flag, accepted so upstream's thalamus.cfg loads as is; it changes nothing (LOG_LEVEL does). */
  debug: boolean;
  /** The file this configuration was read from (empty when none). */
  file: string;
}

type Kind = 'string' | 'int' | 'bool' | 'size' | 'listen' | 'list' | 'path' | 'level' | 'regex';

interface KeySpec { kind: Kind; field: keyof Config; default: string }

/** Every key the file may hold; defaults are written as they would be in the file. */
const KEYS: Record<string, KeySpec> = {
  POSTGRESQL_URI: { kind: 'string', field: 'postgresqlUri', default: '' },
  READ_DATABASE_URL: { kind: 'string', field: 'readDatabaseUrl', default: '' },
  READ_MAX_LAG: { kind: 'int', field: 'readMaxLag', default: '5' },
  ACL: { kind: 'path', field: 'acl', default: 'etc/roles.cfg' },
  SECRET_KEY: { kind: 'string', field: 'secretKey', default: '' },
  LISTEN: { kind: 'listen', field: 'listen', default: '127.0.0.1:8080' },
  PROCESSES: { kind: 'int', field: 'processes', default: '0' },
  BODY_LIMIT: { kind: 'size', field: 'bodyLimit', default: '1MiB' },
  DOCUMENT_LIMIT: { kind: 'size', field: 'documentLimit', default: '10MiB' },
  UPLOAD_CONCURRENCY: { kind: 'int', field: 'uploadConcurrency', default: '4' },
  DOCUMENT_QUOTA_BYTES: { kind: 'size', field: 'documentQuotaBytes', default: '1GiB' },
  DOCUMENT_QUOTA_COUNT: { kind: 'int', field: 'documentQuotaCount', default: '10000' },
  LISTING_SHAPE: { kind: 'string', field: 'listingShape', default: 'rows' },
  SINGLE_ROUND_TRIP: { kind: 'bool', field: 'singleRoundTrip', default: 'True' },
  LEGACY_ROW_ARRAYS: { kind: 'bool', field: 'legacyRowArrays', default: 'False' },
  CORS_ORIGINS: { kind: 'list', field: 'corsOrigins', default: '*' },
  LOG_LEVEL: { kind: 'level', field: 'logLevel', default: 'info' },
  DATA_DIR: { kind: 'path', field: 'dataDir', default: 'var' },
  POOL_SIZE: { kind: 'int', field: 'poolSize', default: '10' },
  PAGE_LIMIT_MAX: { kind: 'int', field: 'pageLimitMax', default: '1000' },
  LISTING_TIMEOUT: { kind: 'int', field: 'listingTimeout', default: '600000' },
  LISTINGS_PER_WORKER: { kind: 'int', field: 'listingsPerWorker', default: '32' },
  LISTINGS_PER_ACCOUNT: { kind: 'int', field: 'listingsPerAccount', default: '4' },
  LISTINGS_PER_ADDRESS: { kind: 'int', field: 'listingsPerAddress', default: '16' },
  LISTING_RESERVE: { kind: 'int', field: 'listingReserve', default: '3' },
  LISTING_QUEUE_TIMEOUT: { kind: 'int', field: 'listingQueueTimeout', default: '10000' },
  LISTING_STALL_MS: { kind: 'int', field: 'listingStallMs', default: '500' },
  LISTING_IDLE_TIMEOUT: { kind: 'int', field: 'listingIdleTimeout', default: '60000' },
  LISTING_BATCH_BYTES: { kind: 'size', field: 'listingBatchBytes', default: '256KiB' },
  ARGON2_MEMORY_KIB: { kind: 'int', field: 'argon2MemoryKib', default: '19456' },
  ARGON2_TIME_COST: { kind: 'int', field: 'argon2TimeCost', default: '2' },
  ARGON2_PARALLELISM: { kind: 'int', field: 'argon2Parallelism', default: '1' },
  PASSWORD_HASH: { kind: 'string', field: 'passwordHash', default: 'argon2id' },
  BCRYPT_COST_MIN: { kind: 'int', field: 'bcryptCostMin', default: '10' },
  BCRYPT_COST_MAX: { kind: 'int', field: 'bcryptCostMax', default: '14' },
  ARGON2_MAX_MEMORY_KIB: { kind: 'int', field: 'argon2MaxMemoryKib', default: '65536' },
  ARGON2_MAX_TIME_COST: { kind: 'int', field: 'argon2MaxTimeCost', default: '10' },
  ARGON2_MAX_PARALLELISM: { kind: 'int', field: 'argon2MaxParallelism', default: '4' },
  PASSWORD_MIN_LENGTH: { kind: 'int', field: 'passwordMinLength', default: '8' },
  PERSON_ID_PATTERN: { kind: 'regex', field: 'personIdPattern', default: '^[A-Za-z0-9._-]{1,128}$' },
  RECORD_ID_PATTERN: { kind: 'regex', field: 'recordIdPattern', default: '^[A-Za-z0-9._-]{1,128}$' },
  LOCKOUT_PAIR_FAILURES: { kind: 'int', field: 'lockoutPairFailures', default: '10' },
  LOCKOUT_ACCOUNT_FAILURES: { kind: 'int', field: 'lockoutAccountFailures', default: '100' },
  LOCKOUT_ADDRESS_FAILURES: { kind: 'int', field: 'lockoutAddressFailures', default: '200' },
  LOCKOUT_WINDOW: { kind: 'int', field: 'lockoutWindow', default: '900' },
  LOCKOUT_IPV6_PREFIX: { kind: 'int', field: 'lockoutIpv6Prefix', default: '56' },
  LOCKOUT_KNOWN_ADDRESS_DAYS: { kind: 'int', field: 'lockoutKnownAddressDays', default: '30' },
  TRUSTED_PROXIES: { kind: 'list', field: 'trustedProxies', default: '127.0.0.1 ::1' },
  AUDIT_RETENTION_DAYS: { kind: 'int', field: 'auditRetentionDays', default: '2190' },
  ADMIN_LISTEN: { kind: 'listen', field: 'adminListen', default: '127.0.0.1:9191' },
  SHUTDOWN_TIMEOUT: { kind: 'int', field: 'shutdownTimeout', default: '10000' },
  TLS_CERT: { kind: 'path', field: 'tlsCert', default: '' },
  TLS_KEY: { kind: 'path', field: 'tlsKey', default: '' },
  DEBUG: { kind: 'bool', field: 'debug', default: 'False' },
  CHANGES_RETENTION_DAYS: { kind: 'int', field: 'changesRetentionDays', default: '90' },
  CHANGES_HEARTBEAT_MS: { kind: 'int', field: 'changesHeartbeatMs', default: '15000' },
  CHANGES_LIMIT_MAX: { kind: 'int', field: 'changesLimitMax', default: '1000' },
  CHANGES_LONGPOLL_MAX_MS: { kind: 'int', field: 'changesLongpollMaxMs', default: '300000' },
  CHANGES_SSE_BUFFER: { kind: 'size', field: 'changesSseBuffer', default: '256KiB' },
  CHANGES_MAX_STREAMS: { kind: 'int', field: 'changesMaxStreams', default: '10000' },
  CHANGES_STREAMS_PER_ACCOUNT: { kind: 'int', field: 'changesStreamsPerAccount', default: '100' },
  CHANGES_STREAMS_PER_ADDRESS: { kind: 'int', field: 'changesStreamsPerAddress', default: '1000' },
  CHANGES_STREAM_MAX_SECONDS: { kind: 'int', field: 'changesStreamMaxSeconds', default: '3600' },
  CHANGES_PAGE_BYTES: { kind: 'size', field: 'changesPageBytes', default: '1MiB' },
  SUBSCRIPTION_BATCH: { kind: 'int', field: 'subscriptionBatch', default: '100' },
  SUBSCRIPTION_TIMEOUT_MS: { kind: 'int', field: 'subscriptionTimeoutMs', default: '10000' },
  SUBSCRIPTION_RETRY_MIN_MS: { kind: 'int', field: 'subscriptionRetryMinMs', default: '1000' },
  SUBSCRIPTION_RETRY_MAX_MS: { kind: 'int', field: 'subscriptionRetryMaxMs', default: '300000' },
  SUBSCRIPTION_PAUSE_AFTER: { kind: 'int', field: 'subscriptionPauseAfter', default: '86400' },
  SUBSCRIPTION_ALLOW_HTTP: { kind: 'bool', field: 'subscriptionAllowHttp', default: 'False' },
  SUBSCRIPTION_ALLOW_HOSTS: { kind: 'list', field: 'subscriptionAllowHosts', default: '' },
  SUBSCRIPTION_CONCURRENCY: { kind: 'int', field: 'subscriptionConcurrency', default: '32' },
  SUBSCRIPTION_MAX_PER_OWNER: { kind: 'int', field: 'subscriptionMaxPerOwner', default: '20' },
};

/** Environment variables read for a key after THALAMUS_<KEY>, as other PostgreSQL tools name them. */
const ALIASES: Record<string, string[]> = { POSTGRESQL_URI: ['DATABASE_URL', 'POSTGRESQL_URI'], READ_DATABASE_URL: ['READ_DATABASE_URL'] };

/** Every key a configuration file may hold, in the order they are documented. */
export const CONFIG_KEY_NAMES: readonly string[] = Object.keys(KEYS);

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The project root (lib/root.ts), exported here too for the callers that read the configuration. */
export { ROOT };

export class ConfigError extends Error {}

/** Turns one raw value into its typed form, or says what is wrong with it. */
function convert(spec: KeySpec, raw: string, base: string): unknown {
  switch (spec.kind) {
    case 'string': return raw;
    case 'path': return raw === '' ? '' : resolve(base, raw);
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
      return Number(raw);
    }
    case 'bool': {
      if (/^(true|yes|on|1)$/i.test(raw)) return true;
      if (/^(false|no|off|0)$/i.test(raw)) return false;
      throw new Error(`expected True or False, got ${JSON.stringify(raw)}`);
    }
    case 'size': {
      const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(raw);
      if (!m) throw new Error(`expected a size such as 1048576 or "1MiB", got ${JSON.stringify(raw)}`);
      const unit = (m[2] ?? 'b').toLowerCase()[0];
      return Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit!]!;
    }
    case 'listen': {
      const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(raw);
      const port = m ? Number(m[2]) : -1;
      if (!m || port > 65535) throw new Error(`expected HOST:PORT, got ${JSON.stringify(raw)}`);
      return { host: m[1] || '127.0.0.1', port };
    }
    case 'list': return raw.split(/[\s,]+/).filter(Boolean);
    case 'regex': {
      try {
        return new RegExp(raw);
      } catch (err) {
        throw new Error(`not a valid regular expression: ${(err as Error).message}`);
      }
    }
    case 'level': {
      if (!LEVELS.includes(raw)) throw new Error(`expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    }
  }
}

/**
 * Reads a `KEY = VALUE` literal as upstream's Python config holds it: quoted string,
 * number, True/False, each optionally followed by a `# comment` (which may hold quotes).
 */
function literal(text: string): string {
  const q = /^(["'])((?:\\.|(?!\1)[^\\])*)\1\s*(#.*)?$/.exec(text);
  if (q) return q[2]!.replace(/\\(["'\\])/g, '$1');
  const bare = text.replace(/\s*#.*$/, '');
  if (/^-?\d+(\.\d+)?$/.test(bare) || /^(True|False)$/.test(bare)) return bare;
  throw new Error(`expected a quoted string, a number, True or False, got ${text}`);
}

/** Parses the text of a configuration file into raw values; errors name file and line. */
export function parseConfigText(text: string, file: string): Map<string, { value: string; line: number }> {
  const out = new Map<string, { value: string; line: number }>();
  text.split(/\r?\n/).forEach((source, i) => {
    const line = source.replace(/^\s+|\s+$/g, '');
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${where}: expected KEY = VALUE`);
    const key = m[1]!;
    if (!(key in KEYS)) throw new ConfigError(`${where}: unknown key ${key}`);
    try {
      out.set(key, { value: literal(m[2]!), line: i + 1 });
    } catch (err) {
      throw new ConfigError(`${where}: ${key}: ${(err as Error).message}`);
    }
  });
  return out;
}

/** The default location of the configuration file. */
export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.THALAMUS_CONFIG ? resolve(env.THALAMUS_CONFIG) : join(ROOT, 'etc', 'thalamus.cfg');
}

/**
 * Loads the configuration: defaults, then the file, then THALAMUS_<KEY> variables
 * (and DATABASE_URL / POSTGRESQL_URI for the database). Throws ConfigError naming the
 * key, and the file and line where the value came from.
 */
export function loadConfig(file = defaultConfigFile(), env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigWithSources(file, env).config;
}

/** Where each key's value came from: `file:line`, `environment variable NAME` or `default of KEY`. */
export type ConfigSources = Map<string, string>;

/** The keys a configuration file may hold, in the order of the documentation, with the Config field each sets. */
export function configKeys(): Array<{ key: string; field: keyof Config }> {
  return Object.entries(KEYS).map(([key, spec]) => ({ key, field: spec.field }));
}

/** loadConfig, also telling where each value came from (`thalamus config check`). */
export function loadConfigWithSources(file = defaultConfigFile(), env: NodeJS.ProcessEnv = process.env): { config: Config; sources: ConfigSources } {
  const fromFile = existsSync(file) ? parseConfigText(readFileSync(file, 'utf8'), file) : new Map();
  const base = ROOT;
  const config = { file: existsSync(file) ? file : '' } as Record<string, unknown>;
  const origin = new Map<string, string>();
  for (const [key, spec] of Object.entries(KEYS)) {
    let raw = spec.default;
    let where = `default of ${key}`;
    const inFile = fromFile.get(key);
    if (inFile) { raw = inFile.value; where = `${file}:${inFile.line}`; }
    const variable = [`THALAMUS_${key}`, ...(ALIASES[key] ?? [])].find((v) => env[v] !== undefined);
    if (variable) { raw = env[variable]!; where = `environment variable ${variable}`; }
    origin.set(key, where);
    if (key === 'DATA_DIR') config.dataDirGiven = Boolean(inFile || variable);
    try {
      config[spec.field] = convert(spec, raw.trim(), base);
    } catch (err) {
      throw new ConfigError(`${where}: ${key}: ${(err as Error).message}`);
    }
  }
  const c = config as unknown as Config;
  const range = (key: string, why: string) => new ConfigError(`${origin.get(key)}: ${key}: ${why}`);
  const given = (key: string) => !origin.get(key)!.startsWith('default of ');
  c.deprecations = [];
  if (c.listingShape !== 'rows' && c.listingShape !== 'objects') throw range('LISTING_SHAPE', 'must be rows or objects');
  if (given('LEGACY_ROW_ARRAYS')) {
    const shape = c.legacyRowArrays ? 'rows' : 'objects';
    c.deprecations.push(given('LISTING_SHAPE')
      ? `${origin.get('LEGACY_ROW_ARRAYS')}: LEGACY_ROW_ARRAYS is deprecated and ignored: LISTING_SHAPE is set`
      : `${origin.get('LEGACY_ROW_ARRAYS')}: LEGACY_ROW_ARRAYS is deprecated; read as LISTING_SHAPE = ${shape}`);
    if (!given('LISTING_SHAPE')) c.listingShape = shape;
  }
  if (c.processes === 0) c.processes = availableParallelism();
  if (c.bodyLimit < 1024) throw range('BODY_LIMIT', 'must be at least 1 KiB');
  if (c.documentLimit < 1024) throw range('DOCUMENT_LIMIT', 'must be at least 1 KiB');
  if (c.uploadConcurrency < 1) throw range('UPLOAD_CONCURRENCY', 'must be at least 1');
  if (c.pageLimitMax < 1) throw range('PAGE_LIMIT_MAX', 'must be at least 1');
  for (const key of ['LISTINGS_PER_WORKER', 'LISTINGS_PER_ACCOUNT', 'LISTINGS_PER_ADDRESS', 'LISTING_QUEUE_TIMEOUT', 'LISTING_BATCH_BYTES'] as const) {
    if ((c[KEYS[key]!.field] as number) < 1) throw range(key, 'must be at least 1');
  }
  if (c.listingIdleTimeout <= c.listingStallMs) throw range('LISTING_IDLE_TIMEOUT', `must be longer than LISTING_STALL_MS (${c.listingStallMs})`);
  const weak = argon2Weakness({ memoryCost: c.argon2MemoryKib, timeCost: c.argon2TimeCost, parallelism: c.argon2Parallelism });
  if (weak) throw new ConfigError(`ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM: ${weak}`);
  if (c.lockoutPairFailures < 1) throw range('LOCKOUT_PAIR_FAILURES', 'must be at least 1');
  if (c.lockoutAccountFailures < 1) throw range('LOCKOUT_ACCOUNT_FAILURES', 'must be at least 1');
  if (c.lockoutAddressFailures < 1) throw range('LOCKOUT_ADDRESS_FAILURES', 'must be at least 1');
  if (c.lockoutWindow < 1) throw range('LOCKOUT_WINDOW', 'must be at least 1 second');
  if (c.lockoutIpv6Prefix < 32 || c.lockoutIpv6Prefix > 64) throw range('LOCKOUT_IPV6_PREFIX', 'must be from 32 to 64');
  const badProxy = c.trustedProxies.find((p) => !parseNetwork(p));
  if (badProxy !== undefined) throw range('TRUSTED_PROXIES', `${JSON.stringify(badProxy)} is not an address or CIDR range`);
  if (c.passwordHash !== 'argon2id' && c.passwordHash !== 'bcrypt') throw range('PASSWORD_HASH', 'must be argon2id or bcrypt');
  if (c.bcryptCostMin < 4 || c.bcryptCostMax > 31 || c.bcryptCostMin > c.bcryptCostMax) throw range('BCRYPT_COST_MAX', 'BCRYPT_COST_MIN and BCRYPT_COST_MAX must satisfy 4 <= min <= max <= 31');
  if (c.argon2MemoryKib > c.argon2MaxMemoryKib) throw range('ARGON2_MAX_MEMORY_KIB', `must be at least ARGON2_MEMORY_KIB (${c.argon2MemoryKib})`);
  if (c.argon2TimeCost > c.argon2MaxTimeCost) throw range('ARGON2_MAX_TIME_COST', `must be at least ARGON2_TIME_COST (${c.argon2TimeCost})`);
  if (c.argon2Parallelism > c.argon2MaxParallelism) throw range('ARGON2_MAX_PARALLELISM', `must be at least ARGON2_PARALLELISM (${c.argon2Parallelism})`);
  if (c.passwordMinLength < 1 || c.passwordMinLength > 256) throw range('PASSWORD_MIN_LENGTH', 'must be from 1 to 256');
  if (c.changesHeartbeatMs < 100) throw range('CHANGES_HEARTBEAT_MS', 'must be at least 100');
  if (c.changesLimitMax < 1) throw range('CHANGES_LIMIT_MAX', 'must be at least 1');
  if (c.changesSseBuffer < 1024) throw range('CHANGES_SSE_BUFFER', 'must be at least 1 KiB');
  if (c.changesStreamsPerAccount < 1) throw range('CHANGES_STREAMS_PER_ACCOUNT', 'must be at least 1');
  if (c.changesStreamsPerAddress < 1) throw range('CHANGES_STREAMS_PER_ADDRESS', 'must be at least 1');
  if (c.changesPageBytes < 4096) throw range('CHANGES_PAGE_BYTES', 'must be at least 4 KiB');
  if (c.subscriptionBatch < 1) throw range('SUBSCRIPTION_BATCH', 'must be at least 1');
  if (c.subscriptionTimeoutMs < 100) throw range('SUBSCRIPTION_TIMEOUT_MS', 'must be at least 100');
  if (c.subscriptionRetryMinMs < 10 || c.subscriptionRetryMinMs > c.subscriptionRetryMaxMs) throw range('SUBSCRIPTION_RETRY_MIN_MS', 'must be at least 10 and at most SUBSCRIPTION_RETRY_MAX_MS');
  if (c.subscriptionConcurrency < 1) throw range('SUBSCRIPTION_CONCURRENCY', 'must be at least 1');
  if (c.subscriptionMaxPerOwner < 1) throw range('SUBSCRIPTION_MAX_PER_OWNER', 'must be at least 1');
  const badHost = c.subscriptionAllowHosts.find((h) => !parseNetwork(h) && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(h));
  if (badHost !== undefined) throw range('SUBSCRIPTION_ALLOW_HOSTS', `${JSON.stringify(badHost)} is not a host name, an address or a CIDR range`);
  if (!c.tlsCert !== !c.tlsKey) throw new ConfigError('TLS_CERT and TLS_KEY: set both or neither');
  if (c.readMaxLag < 1) throw range('READ_MAX_LAG', 'must be at least 1 second');
  for (const key of ['POSTGRESQL_URI', 'READ_DATABASE_URL'] as const) {
    try {
      parseDatabaseUrl(c[KEYS[key]!.field] as string);
    } catch (err) {
      if (err instanceof DatabaseUrlError) throw range(key, err.message);
      throw err;
    }
  }
  return { config: c, sources: origin };
}
