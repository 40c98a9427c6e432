// The one entry of authentication and authorization: admit(request, route, answer). It
// parses the Basic header once, computes the credential cache's key and the lockout
// address once, and decides how the request is answered:
// - one round trip, for credentials this worker verified before on a guarded route:
//   `answer` runs under the guard of the verified state (guard.ts), in the statement
//   that does the work; when the guard fails, nothing was read or written (run() threw
//   GuardFailed before anything was sent), and the request goes the full path;
// - the full path: the person read and the password verified (authenticate.ts, the hash
//   skipped when the cache holds the stored one), then the ACL, then `answer` unguarded.
// The request's principal and standing (verified.ts) are set on it for the reply, the
// audit trail and the change feed; `account` names whom the credentials claim.
import type { IncomingHttpHeaders } from 'node:http';
import type pg from 'pg';
import type { Logger } from '../log.js';
import type { Acl, Authority } from './acl.js';
import { parseBasic } from './basic.js';
import { createCredentialCache } from './cache.js';
import { createAuthenticator, type AuthStats } from './authenticate.js';
import { createAuthorize, type AuthorizedRequest, type AuthRoute } from './authorize.js';
import { lockoutAddress, type Lockout } from './lockout.js';
import { principalGuard } from './guard.js';
import type { FailureTimer } from './failure-time.js';
import type { Passwords } from './passwords.js';
import type { Principal, Verified } from './verified.js';
import { GuardFailed, UNGUARDED, type Guard } from '../db/run.js';
import { ClientLeft } from '../http/departure.js';
import { errors } from '../http/errors.js';

/** How requests were answered: in one round trip, or by the full path after a failed guard. */
export interface PathStats { oneRoundTrip: number; guardFailed: number }

/** What admit reads of a request (lib/app.ts sets the first three before it runs), and what it sets. */
export interface AdmittedRequest extends AuthorizedRequest {
  readonly headers: IncomingHttpHeaders;
  /** The client's address. */
  readonly client?: string;
  readonly id?: string;
  /** Whether the client left (lib/http/departure.ts): nobody is authenticated for a client that left. */
  readonly left?: { readonly aborted: boolean };
  /** The account the credentials name, set before anything is checked (a 429's audit row names it). */
  account?: string;
  principal?: Principal;
  /** What the principal's verification relied on, for what outlives one statement. */
  standing?: Verified;
}

/** Answers the request with what its grant lets the resource decide, every statement under `guard`. */
export type Answer = (authority: Authority, guard: Guard) => Promise<void>;

export interface Auth {
  /** Answers the request by `answer` once its principal may make it; throws 401, 403 or 429 otherwise. */
  admit(req: AdmittedRequest, route: AuthRoute, answer: Answer): Promise<void>;
  /** Verifications, cache hits, failures, lockouts. */
  readonly stats: AuthStats;
  readonly paths: PathStats;
}

export interface AuthOptions {
  pool: pg.Pool;
  passwords: Passwords;
  lockout: Lockout;
  timer: FailureTimer;
  /** The roles file, read once per worker: a reload replaces the workers. */
  acl: Acl;
  /** PERSON_ID_PATTERN: an account id outside it never logs in. */
  personIdPattern: RegExp;
  /** SINGLE_ROUND_TRIP: whether a principal verified before may be answered in one round trip. */
  singleRoundTrip: boolean;
  /** Whether the read standby answers listings now: a standby route then takes the full path, since the guard is the primary's to check. */
  standbyInUse: () => boolean;
  log: Logger;
}

export function createAuth(opts: AuthOptions): Auth {
  const { personIdPattern } = opts;
  const ipv6Prefix = opts.lockout.policy.ipv6Prefix;
  const cache = createCredentialCache();
  const authenticator = createAuthenticator({ pool: opts.pool, cache, passwords: opts.passwords, lockout: opts.lockout, timer: opts.timer, personIdPattern, log: opts.log });
  const authorize = createAuthorize(opts.acl, personIdPattern);
  const paths: PathStats = { oneRoundTrip: 0, guardFailed: 0 };

  /** One round trip for credentials verified before; false when the request needs the full path. */
  async function oneRoundTrip(req: AdmittedRequest, route: AuthRoute, known: Verified, address: string, answer: Answer): Promise<boolean> {
    // Refused with the roles known: the full path decides, with the roles stored now.
    const authority = authorize(req, route, known.principal);
    if (!authority) return false;
    const standing = known.lockoutAddress === address ? known : { ...known, lockoutAddress: address };
    req.principal = standing.principal;
    req.standing = standing;
    try {
      await answer(authority, principalGuard(standing));
      paths.oneRoundTrip++;
      return true;
    } catch (err) {
      if (!(err instanceof GuardFailed)) throw err;
      paths.guardFailed++;
      req.principal = undefined;
      req.standing = undefined;
      return false;
    }
  }

  return {
    stats: authenticator.stats,
    paths,
    async admit(req, route, answer) {
      const creds = parseBasic(req.headers.authorization);
      req.account = creds?.account;
      const address = lockoutAddress(req.client!, ipv6Prefix);
      const key = creds && cache.keyOf(creds.account, creds.password);
      if (key && route.guarded && opts.singleRoundTrip && !(route.standby && opts.standbyInUse())) {
        const known = cache.get(key);
        if (known && personIdPattern.test(creds!.typed) && await oneRoundTrip(req, route, known, address, answer)) return;
      }
      // Nobody is left to answer: no password is checked for them.
      if (req.left!.aborted) throw new ClientLeft();
      if (!key) throw errors.unauthenticated();
      const login = { creds: creds!, key, address: req.client!, lockoutAddress: address, route: route.path, requestId: req.id! };
      // An entry stays only while the full path confirms it: a refused one goes the full path from now on.
      const verified = await authenticator.authenticate(login).catch((err: unknown) => { cache.delete(key); throw err; });
      req.principal = verified.principal;
      req.standing = verified;
      const authority = authorize(req, route, verified.principal);
      if (!authority) throw errors.forbidden();
      await answer(authority, UNGUARDED);
    },
  };
}
