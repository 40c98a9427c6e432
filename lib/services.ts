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

export interface Services {
  pool: pg.Pool;
  auth: Authenticator;
  acl: Acl;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
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
  const auth = createAuthenticator(pool, createCredentialCache());
  const services = { pool, auth, acl } as Services;
  services.handler = createApp({ config, pool, auth, acl: () => services.acl, log, observe: opts.observe });
  return services;
}

export async function closeServices(services: Services): Promise<void> {
  await closePool(services.pool);
}
