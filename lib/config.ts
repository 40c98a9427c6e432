// Configuration: etc/thalamus.cfg in upstream's `KEY = VALUE` syntax, each key
// overridable by the environment variable THALAMUS_<KEY>. One typed object.
import { readFileSync, existsSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { argon2Weakness } from './auth/argon2-params.js';
import { parseNetwork } from './http/client.js';
import { parseDatabaseUrl, DatabaseUrlError } from './db/hosts.js';
import { ROOT } from './root.js';
import { ConfigError, convert, everyItem, outOfBounds, outOfRelation, parseConfigLines, type KeySpec } from './config-values.js';

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
  /** Target size of one batch of a listing, in characters of JSON text (a batch stops past twice this): LISTING_BATCH_CHARS, formerly LISTING_BATCH_BYTES. */
  listingBatchChars: number;
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

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i;

/** The message of a connection string that names no usable database target. */
function databaseUrlProblem(url: unknown): string | undefined {
  // Not echoed: a malformed value may still hold a password.
  if (url && !/^postgres(ql)?:\/\//.test(url as string)) return 'must be a postgresql:// URL (postgresql://user:password@host:5432/database)';
  try {
    parseDatabaseUrl(url as string);
    return undefined;
  } catch (err) {
    if (err instanceof DatabaseUrlError) return err.message;
    throw err;
  }
}

/** Every key the file may hold, with its bounds; defaults are written as they would be in the file. */
const KEYS: Record<string, KeySpec<keyof Config>> = {
  POSTGRESQL_URI: { kind: 'string', field: 'postgresqlUri', default: '', check: databaseUrlProblem },
  READ_DATABASE_URL: { kind: 'string', field: 'readDatabaseUrl', default: '', check: databaseUrlProblem },
  READ_MAX_LAG: { kind: 'int', field: 'readMaxLag', default: '5', min: 1, unit: 'seconds' },
  ACL: { kind: 'path', field: 'acl', default: 'etc/roles.cfg' },
  SECRET_KEY: { kind: 'string', field: 'secretKey', default: '' },
  LISTEN: { kind: 'listen', field: 'listen', default: '127.0.0.1:8080' },
  PROCESSES: { kind: 'int', field: 'processes', default: '0' },
  BODY_LIMIT: { kind: 'size', field: 'bodyLimit', default: '1MiB', min: 1024, unit: 'bytes' },
  DOCUMENT_LIMIT: { kind: 'size', field: 'documentLimit', default: '10MiB', min: 1024, unit: 'bytes' },
  UPLOAD_CONCURRENCY: { kind: 'int', field: 'uploadConcurrency', default: '4', min: 1 },
  DOCUMENT_QUOTA_BYTES: { kind: 'size', field: 'documentQuotaBytes', default: '1GiB', unit: 'bytes' },
  DOCUMENT_QUOTA_COUNT: { kind: 'int', field: 'documentQuotaCount', default: '10000' },
  LISTING_SHAPE: { kind: 'string', field: 'listingShape', default: 'rows', oneOf: ['rows', 'objects'] },
  SINGLE_ROUND_TRIP: { kind: 'bool', field: 'singleRoundTrip', default: 'True' },
  LEGACY_ROW_ARRAYS: { kind: 'bool', field: 'legacyRowArrays', default: 'False', deprecated: true },
  CORS_ORIGINS: { kind: 'list', field: 'corsOrigins', default: '*' },
  LOG_LEVEL: { kind: 'level', field: 'logLevel', default: 'info' },
  DATA_DIR: { kind: 'path', field: 'dataDir', default: 'var' },
  POOL_SIZE: { kind: 'int', field: 'poolSize', default: '10' },
  PAGE_LIMIT_MAX: { kind: 'int', field: 'pageLimitMax', default: '1000', min: 1 },
  LISTING_TIMEOUT: { kind: 'int', field: 'listingTimeout', default: '600000', unit: 'ms' },
  LISTINGS_PER_WORKER: { kind: 'int', field: 'listingsPerWorker', default: '32', min: 1 },
  LISTINGS_PER_ACCOUNT: { kind: 'int', field: 'listingsPerAccount', default: '4', min: 1 },
  LISTINGS_PER_ADDRESS: { kind: 'int', field: 'listingsPerAddress', default: '16', min: 1 },
  LISTING_RESERVE: { kind: 'int', field: 'listingReserve', default: '3' },
  LISTING_QUEUE_TIMEOUT: { kind: 'int', field: 'listingQueueTimeout', default: '10000', min: 1, unit: 'ms' },
  LISTING_STALL_MS: { kind: 'int', field: 'listingStallMs', default: '500', unit: 'ms' },
  LISTING_IDLE_TIMEOUT: { kind: 'int', field: 'listingIdleTimeout', default: '60000', unit: 'ms', longerThan: 'LISTING_STALL_MS' },
  LISTING_BATCH_CHARS: { kind: 'size', field: 'listingBatchChars', default: '256KiB', min: 1, unit: 'characters', renamedFrom: 'LISTING_BATCH_BYTES' },
  ARGON2_MEMORY_KIB: { kind: 'int', field: 'argon2MemoryKib', default: '19456', unit: 'KiB' },
  ARGON2_TIME_COST: { kind: 'int', field: 'argon2TimeCost', default: '2' },
  ARGON2_PARALLELISM: { kind: 'int', field: 'argon2Parallelism', default: '1' },
  PASSWORD_HASH: { kind: 'string', field: 'passwordHash', default: 'argon2id', oneOf: ['argon2id', 'bcrypt'] },
  BCRYPT_COST_MIN: { kind: 'int', field: 'bcryptCostMin', default: '10', min: 4, max: 31 },
  BCRYPT_COST_MAX: { kind: 'int', field: 'bcryptCostMax', default: '14', min: 4, max: 31, atLeast: 'BCRYPT_COST_MIN' },
  ARGON2_MAX_MEMORY_KIB: { kind: 'int', field: 'argon2MaxMemoryKib', default: '65536', unit: 'KiB', atLeast: 'ARGON2_MEMORY_KIB' },
  ARGON2_MAX_TIME_COST: { kind: 'int', field: 'argon2MaxTimeCost', default: '10', atLeast: 'ARGON2_TIME_COST' },
  ARGON2_MAX_PARALLELISM: { kind: 'int', field: 'argon2MaxParallelism', default: '4', atLeast: 'ARGON2_PARALLELISM' },
  PASSWORD_MIN_LENGTH: { kind: 'int', field: 'passwordMinLength', default: '8', min: 1, max: 256, unit: 'characters' },
  PERSON_ID_PATTERN: { kind: 'regex', field: 'personIdPattern', default: '^[A-Za-z0-9._-]{1,128}$' },
  RECORD_ID_PATTERN: { kind: 'regex', field: 'recordIdPattern', default: '^[A-Za-z0-9._-]{1,128}$' },
  LOCKOUT_PAIR_FAILURES: { kind: 'int', field: 'lockoutPairFailures', default: '10', min: 1 },
  LOCKOUT_ACCOUNT_FAILURES: { kind: 'int', field: 'lockoutAccountFailures', default: '100', min: 1 },
  LOCKOUT_ADDRESS_FAILURES: { kind: 'int', field: 'lockoutAddressFailures', default: '200', min: 1 },
  LOCKOUT_WINDOW: { kind: 'int', field: 'lockoutWindow', default: '900', min: 1, unit: 'seconds' },
  LOCKOUT_IPV6_PREFIX: { kind: 'int', field: 'lockoutIpv6Prefix', default: '56', min: 32, max: 64 },
  LOCKOUT_KNOWN_ADDRESS_DAYS: { kind: 'int', field: 'lockoutKnownAddressDays', default: '30', unit: 'days' },
  TRUSTED_PROXIES: { kind: 'list', field: 'trustedProxies', default: '127.0.0.1 ::1', check: everyItem((p) => parseNetwork(p) !== undefined, 'an address or CIDR range') },
  AUDIT_RETENTION_DAYS: { kind: 'int', field: 'auditRetentionDays', default: '2190', unit: 'days' },
  ADMIN_LISTEN: { kind: 'listen', field: 'adminListen', default: '127.0.0.1:9191' },
  SHUTDOWN_TIMEOUT: { kind: 'int', field: 'shutdownTimeout', default: '10000', unit: 'ms' },
  TLS_CERT: { kind: 'path', field: 'tlsCert', default: '' },
  TLS_KEY: { kind: 'path', field: 'tlsKey', default: '' },
  DEBUG: { kind: 'bool', field: 'debug', default: 'False' },
  CHANGES_RETENTION_DAYS: { kind: 'int', field: 'changesRetentionDays', default: '90', unit: 'days' },
  CHANGES_HEARTBEAT_MS: { kind: 'int', field: 'changesHeartbeatMs', default: '15000', min: 100, unit: 'ms' },
  CHANGES_LIMIT_MAX: { kind: 'int', field: 'changesLimitMax', default: '1000', min: 1 },
  CHANGES_LONGPOLL_MAX_MS: { kind: 'int', field: 'changesLongpollMaxMs', default: '300000', unit: 'ms' },
  CHANGES_SSE_BUFFER: { kind: 'size', field: 'changesSseBuffer', default: '256KiB', min: 1024, unit: 'bytes' },
  CHANGES_MAX_STREAMS: { kind: 'int', field: 'changesMaxStreams', default: '10000' },
  CHANGES_STREAMS_PER_ACCOUNT: { kind: 'int', field: 'changesStreamsPerAccount', default: '100', min: 1 },
  CHANGES_STREAMS_PER_ADDRESS: { kind: 'int', field: 'changesStreamsPerAddress', default: '1000', min: 1 },
  CHANGES_STREAM_MAX_SECONDS: { kind: 'int', field: 'changesStreamMaxSeconds', default: '3600', unit: 'seconds' },
  CHANGES_PAGE_BYTES: { kind: 'size', field: 'changesPageBytes', default: '1MiB', min: 4096, unit: 'bytes' },
  SUBSCRIPTION_BATCH: { kind: 'int', field: 'subscriptionBatch', default: '100', min: 1 },
  SUBSCRIPTION_TIMEOUT_MS: { kind: 'int', field: 'subscriptionTimeoutMs', default: '10000', min: 100, unit: 'ms' },
  SUBSCRIPTION_RETRY_MIN_MS: { kind: 'int', field: 'subscriptionRetryMinMs', default: '1000', min: 10, unit: 'ms', atMost: 'SUBSCRIPTION_RETRY_MAX_MS' },
  SUBSCRIPTION_RETRY_MAX_MS: { kind: 'int', field: 'subscriptionRetryMaxMs', default: '300000', unit: 'ms' },
  SUBSCRIPTION_PAUSE_AFTER: { kind: 'int', field: 'subscriptionPauseAfter', default: '86400', unit: 'seconds' },
  SUBSCRIPTION_ALLOW_HTTP: { kind: 'bool', field: 'subscriptionAllowHttp', default: 'False' },
  SUBSCRIPTION_ALLOW_HOSTS: { kind: 'list', field: 'subscriptionAllowHosts', default: '', check: everyItem((h) => parseNetwork(h) !== undefined || HOST_NAME.test(h), 'a host name, an address or a CIDR range') },
  SUBSCRIPTION_CONCURRENCY: { kind: 'int', field: 'subscriptionConcurrency', default: '32', min: 1 },
  SUBSCRIPTION_MAX_PER_OWNER: { kind: 'int', field: 'subscriptionMaxPerOwner', default: '20', min: 1 },
};

/** Former names of keys, still read: the name a file or THALAMUS_<NAME> may use -> the key it sets. */
const RENAMED: Record<string, string> = Object.fromEntries(
  Object.entries(KEYS).filter(([, spec]) => spec.renamedFrom).map(([key, spec]) => [spec.renamedFrom!, key]));

/** Environment variables read for a key after THALAMUS_<KEY>, as other PostgreSQL tools name them. */
const ALIASES: Record<string, string[]> = { POSTGRESQL_URI: ['DATABASE_URL', 'POSTGRESQL_URI'], READ_DATABASE_URL: ['READ_DATABASE_URL'] };

/** Every key a configuration file may hold, in the order they are documented. */
export const CONFIG_KEY_NAMES: readonly string[] = Object.keys(KEYS);

/** THALAMUS_ variables that are no key: read by other parts (the file's name, the log's form, the test runner). */
const OTHER_VARIABLES = new Set(['THALAMUS_CONFIG', 'THALAMUS_LOG_JSON', 'THALAMUS_TEST_REPORTS']);

/** Edit distance of two short names (a misspelt key is one or two edits away). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * THALAMUS_* variables of `env` that set nothing (a misspelt key is silently ignored
 * otherwise), each as a sentence naming the key it most likely meant.
 */
export function unknownVariables(env: NodeJS.ProcessEnv = process.env): string[] {
  const names = [...Object.keys(KEYS), ...Object.keys(RENAMED)];
  const known = new Set(names.map((k) => `THALAMUS_${k}`));
  return Object.keys(env).filter((v) => v.startsWith('THALAMUS_') && !known.has(v) && !OTHER_VARIABLES.has(v)).sort().map((v) => {
    const name = v.slice('THALAMUS_'.length);
    const best = names.map((k) => ({ k, d: distance(name, k) })).sort((x, y) => x.d - y.d)[0];
    return best && best.d <= 2 ? `environment variable ${v} sets nothing (THALAMUS_${best.k}?)` : `environment variable ${v} sets nothing: no key has that name`;
  });
}

/** The project root (lib/root.ts), exported here too for the callers that read the configuration. */
export { ROOT, ConfigError };

/** Parses the text of a configuration file into raw values; errors name file and line. */
export function parseConfigText(text: string, file: string): Map<string, { value: string; line: number }> {
  return parseConfigLines(text, file, (key) => key in KEYS || key in RENAMED);
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

/** A key a configuration file may hold, as its row declares it. */
export interface ConfigKey {
  key: string;
  /** The Config field it sets. */
  field: keyof Config;
  /** As written in the file. */
  default: string;
  /** Deprecated: read into another key, with a warning. */
  deprecated: boolean;
  /** Its former name, still read with a warning. */
  renamedFrom?: string;
}

/** The keys a configuration file may hold, in the order of the documentation. */
export function configKeys(): ConfigKey[] {
  return Object.entries(KEYS).map(([key, spec]) => ({ key, field: spec.field, default: spec.default, deprecated: spec.deprecated === true, renamedFrom: spec.renamedFrom }));
}

/**
 * The raw value of `key` and where it came from: the environment over the file over the
 * default, and at each level a key's current name over its former one (`ignored` then
 * says where the former one was given).
 */
function rawValue(key: string, spec: KeySpec, fromFile: Map<string, { value: string; line: number }>, file: string, env: NodeJS.ProcessEnv) {
  const names = spec.renamedFrom ? [spec.renamedFrom, key] : [key];
  // Every place the key was given, in rising precedence: the last one is the value.
  const hits: Array<{ raw: string; where: string; name: string }> = [];
  for (const name of names) {
    const inFile = fromFile.get(name);
    if (inFile) hits.push({ raw: inFile.value, where: `${file}:${inFile.line}`, name });
  }
  for (const name of names) {
    const variable = [`THALAMUS_${name}`, ...(ALIASES[name] ?? [])].find((v) => env[v] !== undefined);
    if (variable) hits.push({ raw: env[variable]!, where: `environment variable ${variable}`, name });
  }
  const found = hits.at(-1);
  if (!found) return { raw: spec.default, where: `default of ${key}`, name: key, given: false, ignored: undefined };
  const ignored = found.name === key ? hits.find((h) => h.name !== key)?.where : undefined;
  return { ...found, given: true, ignored };
}

/** loadConfig, also telling where each value came from (`thalamus config check`). */
export function loadConfigWithSources(file = defaultConfigFile(), env: NodeJS.ProcessEnv = process.env): { config: Config; sources: ConfigSources } {
  const fromFile = existsSync(file) ? parseConfigText(readFileSync(file, 'utf8'), file) : new Map();
  const config: Record<string, unknown> = { file: existsSync(file) ? file : '' };
  const origin = new Map<string, string>();
  const deprecations: string[] = [];
  /** The name each value was given under, for the messages: a former name is named as the operator wrote it. */
  const spelled = new Map<string, string>();
  for (const [key, spec] of Object.entries(KEYS)) {
    const { raw, where, name, given, ignored } = rawValue(key, spec, fromFile, file, env);
    origin.set(key, where);
    spelled.set(key, name);
    if (name !== key) deprecations.push(`${where}: ${name} is deprecated, renamed ${key}; read as ${key}`);
    if (ignored) deprecations.push(`${ignored}: ${spec.renamedFrom} is deprecated and ignored: ${key} is set`);
    if (key === 'DATA_DIR') config.dataDirGiven = given;
    let value: unknown;
    try {
      value = convert(spec, raw.trim(), ROOT);
    } catch (err) {
      throw new ConfigError(`${where}: ${name}: ${(err as Error).message}`);
    }
    const problem = outOfBounds(spec, value);
    if (problem) throw new ConfigError(`${where}: ${name}: ${problem}`);
    config[spec.field] = value;
  }
  const valueOf = (key: string) => config[KEYS[key]!.field] as number;
  const given = (key: string) => !origin.get(key)!.startsWith('default of ');
  for (const [key, spec] of Object.entries(KEYS)) {
    const problem = outOfRelation(spec, valueOf(key), valueOf);
    if (!problem) continue;
    // Named where the operator's value is: this key's, or the other's when only that one was given.
    const other = (spec.atLeast ?? spec.atMost ?? spec.longerThan)!;
    throw new ConfigError(`${origin.get(given(key) || !given(other) ? key : other)}: ${spelled.get(key)}: ${problem}`);
  }
  const c = config as unknown as Config;
  if (given('LEGACY_ROW_ARRAYS')) {
    const shape = c.legacyRowArrays ? 'rows' : 'objects';
    deprecations.unshift(given('LISTING_SHAPE')
      ? `${origin.get('LEGACY_ROW_ARRAYS')}: LEGACY_ROW_ARRAYS is deprecated and ignored: LISTING_SHAPE is set`
      : `${origin.get('LEGACY_ROW_ARRAYS')}: LEGACY_ROW_ARRAYS is deprecated; read as LISTING_SHAPE = ${shape}`);
    if (!given('LISTING_SHAPE')) c.listingShape = shape;
  }
  c.deprecations = deprecations;
  if (c.processes === 0) c.processes = availableParallelism();
  // Bounds of several keys at once, which no one key's row can state.
  const weak = argon2Weakness({ memoryCost: c.argon2MemoryKib, timeCost: c.argon2TimeCost, parallelism: c.argon2Parallelism });
  if (weak) throw new ConfigError(`ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM: ${weak}`);
  if (!c.tlsCert !== !c.tlsKey) throw new ConfigError('TLS_CERT and TLS_KEY: set both or neither');
  return { config: c, sources: origin };
}
