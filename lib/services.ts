// What one worker holds: its pool, roles, credential cache, change hub, subscription
// deliverer and request handler, made and closed as a pair (closed in reverse order).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createPool, closePool } from './db/pool.js';
import { loadAcl, type Acl } from './auth/acl.js';
import { createAuth, type Auth, type PathStats } from './auth/admit.js';
import { createApp, type RequestInfo } from './app.js';
import type { Route } from './routes.js';
import { createLockout } from './auth/lockout.js';
import { createPasswords, type Passwords } from './auth/passwords.js';
import { passwordSettingsOf } from './auth/password-settings.js';
import { createFailureTimer } from './auth/failure-time.js';
import { createAuditLog, type AuditLog } from './audit/log.js';
import { startPurging } from './audit/maintenance.js';
import { createListingGate, type ListingGate } from './http/listings.js';
import { createHub, type Hub } from './changes/hub.js';
import { startChangesPurging } from './changes/retention.js';
import { changesRoutes } from './changes/handlers.js';
import { createDeliverer, type Deliverer } from './subscriptions/deliverer.js';
import { subscriptionRoutes } from './subscriptions/handlers.js';
import { createDestinations, systemResolver, type Resolver } from './subscriptions/destination.js';
import { createReads, primaryReads, type Reads } from './db/reads.js';
import { targetOf } from './db/target.js';

export interface Services {
  pool: pg.Pool;
  /** Where listings, feed pages and exports read: the standby of READ_DATABASE_URL while it keeps up, else `pool`. */
  reads: Reads;
  /** Authentication and authorization: admit, and its counters. */
  auth: Auth;
  /** The worker's password settings (PASSWORD_HASH, ARGON2_*, BCRYPT_COST_*, PASSWORD_MIN_LENGTH) and its dummy hash. */
  passwords: Passwords;
  acl: Acl;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The routes `handler` serves. */
  routes: readonly Route[];
  /** How requests were answered: in one round trip, or by the full path after a failed guard. */
  paths: PathStats;
  audit: AuditLog;
  stopPurging: () => void;
  listings: ListingGate;
  /** The worker's one LISTEN connection, fanning changes out to its followers. */
  hub: Hub;
  deliverer: Deliverer;
  stopChangesPurging: () => void;
  /** Stops the log line on a change of the writable host. */
  unwatchHosts: () => void;
}

export interface ServiceOptions {
  config: Config;
  databaseUrl: string;
  log: Logger;
  observe?: (info: RequestInfo) => void;
  /** How subscription hosts are resolved (tests answer for their own names); the system's DNS by default. */
  resolve?: Resolver;
}

export function initServices(opts: ServiceOptions): Services {
  const { config, log } = opts;
  const acl = loadAcl(config.acl);
  const pool = createPool({ url: opts.databaseUrl, size: config.poolSize });
  const unwatchHosts = targetOf(opts.databaseUrl)?.target.onSwitch((to, from) => {
    if (from) log.warn({ host: to, was: from }, `database: the writable host is now ${to} (was ${from})`);
    else log.info({ host: to }, `database: writable host ${to}`);
  }) ?? (() => undefined);
  const reads = config.readDatabaseUrl
    ? createReads({ url: config.readDatabaseUrl, primary: pool, size: config.poolSize, maxLagSeconds: config.readMaxLag, log })
    : primaryReads(pool);
  const passwords = createPasswords(passwordSettingsOf(config));
  const lockout = createLockout(pool, {
    pairFailures: config.lockoutPairFailures, accountFailures: config.lockoutAccountFailures,
    addressFailures: config.lockoutAddressFailures, windowSeconds: config.lockoutWindow,
    ipv6Prefix: config.lockoutIpv6Prefix, knownAddressDays: config.lockoutKnownAddressDays,
  });
  // Failed logins are padded to the dearest hash kind, measured before the first is answered.
  const timer = createFailureTimer((record) =>
    passwords.measureVerifications(record).catch((err) => log.warn({ err }, 'measuring hash verification times failed')));
  const audit = createAuditLog(pool, log);
  const stopPurging = startPurging(pool, () => lockout.purge(), config.auditRetentionDays, log);
  const listings = createListingGate({
    perWorker: config.listingsPerWorker, perAccount: config.listingsPerAccount, perAddress: config.listingsPerAddress,
    connections: Math.max(1, config.poolSize - config.listingReserve), queueMs: config.listingQueueTimeout,
    stallMs: config.listingStallMs, idleMs: config.listingIdleTimeout, batchChars: config.listingBatchChars,
  });
  const hub = createHub({ databaseUrl: opts.databaseUrl, log, batch: config.changesLimitMax, pollMs: Math.max(1000, config.changesHeartbeatMs) });
  const services = { pool, reads, passwords, acl, audit, stopPurging, listings, hub, unwatchHosts } as Services;
  services.auth = createAuth({
    pool, passwords, lockout, timer, acl, personIdPattern: config.personIdPattern,
    singleRoundTrip: config.singleRoundTrip, standbyInUse: () => reads.stats().inUse, log,
  });
  const destinations = createDestinations({ allowHosts: config.subscriptionAllowHosts, resolve: opts.resolve ?? systemResolver });
  services.deliverer = createDeliverer({
    databaseUrl: opts.databaseUrl, pool, hub, acl, log, audit, destinations,
    settings: {
      batch: config.subscriptionBatch, timeoutMs: config.subscriptionTimeoutMs, retryMinMs: config.subscriptionRetryMinMs,
      retryMaxMs: config.subscriptionRetryMaxMs, pauseAfterSeconds: config.subscriptionPauseAfter, concurrency: config.subscriptionConcurrency,
      pageBytes: config.changesPageBytes,
    },
  });
  services.stopChangesPurging = startChangesPurging(pool, config.changesRetentionDays, log);
  const routes = [
    ...changesRoutes({
      pool, reads, hub,
      settings: {
        limitMax: config.changesLimitMax, longpollMaxMs: config.changesLongpollMaxMs, heartbeatMs: config.changesHeartbeatMs,
        sseBuffer: config.changesSseBuffer, maxStreams: config.changesMaxStreams,
        streamsPerAccount: config.changesStreamsPerAccount, streamsPerAddress: config.changesStreamsPerAddress, ipv6Prefix: config.lockoutIpv6Prefix,
        streamMaxSeconds: config.changesStreamMaxSeconds, pageBytes: config.changesPageBytes,
      },
    }),
    ...subscriptionRoutes({ allowHttp: config.subscriptionAllowHttp, maxPerOwner: config.subscriptionMaxPerOwner, destinations, wake: () => services.deliverer.scan() }),
  ];
  const app = createApp({ config, pool, reads, auth: services.auth, passwords, log, audit, observe: opts.observe, listings, routes });
  services.handler = app.handler;
  services.routes = app.routes;
  services.paths = services.auth.paths;
  return services;
}

/** Ends the change streams and longpolls (with a close event), so a draining worker is not held by them. */
export async function endStreams(services: Services): Promise<void> {
  await services.deliverer.close();
  await services.hub.close();
}

export async function closeServices(services: Services): Promise<void> {
  await endStreams(services);
  services.stopChangesPurging();
  services.stopPurging();
  await services.audit.close();
  await services.reads.close();
  services.unwatchHosts();
  await closePool(services.pool);
}
