// What one worker holds: its pool, roles, credential cache and request handler, made
// and closed as a pair.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createPool, closePool } from './db/pool.js';
import { loadAcl, type Acl } from './auth/acl.js';
import { createCredentialCache } from './auth/cache.js';
import { createAuthenticator, type Authenticator } from './auth/authenticate.js';
import { createApp, type RequestInfo } from './app.js';
import { createLockout } from './auth/lockout.js';
import { measureVerifications, setArgon2Params, setHashAlgorithm, setHashBounds } from './auth/passwords.js';
import { setPasswordMinLength } from './auth/policy.js';
import { createFailureTimer } from './auth/failure-time.js';
import { createAuditLog, type AuditLog } from './audit/log.js';
import { startPurging } from './audit/maintenance.js';
import { createListingGate, type ListingGate } from './http/listings.js';

export interface Services {
  pool: pg.Pool;
  auth: Authenticator;
  acl: Acl;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  audit: AuditLog;
  stopPurging: () => void;
  listings: ListingGate;
}

export interface ServiceOptions {
  config: Config;
  databaseUrl: string;
  log: Logger;
  observe?: (info: RequestInfo) => void;
}

export function initServices(opts: ServiceOptions): Services {
  const { config, log } = opts;
  const acl = loadAcl(config.acl);
  const pool = createPool({ url: opts.databaseUrl, size: config.poolSize });
  setArgon2Params({ memoryCost: config.argon2MemoryKib, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism });
  setHashBounds(config);
  setHashAlgorithm(config.passwordHash);
  setPasswordMinLength(config.passwordMinLength);
  const lockout = createLockout(pool, {
    pairFailures: config.lockoutPairFailures, accountFailures: config.lockoutAccountFailures,
    addressFailures: config.lockoutAddressFailures, windowSeconds: config.lockoutWindow,
  });
  const timer = createFailureTimer();
  // Failed logins are padded to the dearest hash kind from the first request on.
  measureVerifications(timer.record).catch((err) => log.warn({ err }, 'measuring hash verification times failed'));
  const auth = createAuthenticator({ pool, cache: createCredentialCache(), lockout, timer, personIdPattern: config.personIdPattern, log });
  const audit = createAuditLog(pool, log);
  const stopPurging = startPurging(pool, lockout, config.auditRetentionDays, log);
  const listings = createListingGate({
    perWorker: config.listingsPerWorker, perAccount: config.listingsPerAccount, perAddress: config.listingsPerAddress,
    connections: Math.max(1, config.poolSize - config.listingReserve), queueMs: config.listingQueueTimeout,
    stallMs: config.listingStallMs, idleMs: config.listingIdleTimeout, batchChars: config.listingBatchBytes,
  });
  const services = { pool, auth, acl, audit, stopPurging, listings } as Services;
  services.handler = createApp({ config, pool, auth, acl: () => services.acl, log, audit, observe: opts.observe, listings });
  return services;
}

export async function closeServices(services: Services): Promise<void> {
  services.stopPurging();
  await services.audit.close();
  await closePool(services.pool);
}
