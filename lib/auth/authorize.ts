// May an authenticated principal make this request: roles.cfg's rule (DESIGN §3) for the
// route's ACL name and method, and what the role that granted it lets a resource decide.
import type { Acl, Authority, Method } from './acl.js';
import { aclAllows, aclGrant, authorityOf, ADMINISTER } from './acl.js';
import { errors } from '../http/errors.js';
import type { Principal } from './verified.js';

/** What authorization reads of a route (lib/routes.ts Route). */
export interface AuthRoute {
  path: string;
  /** ACL name in roles.cfg; null for a public route, which admit never sees. */
  acl: string | null;
  /** The parameter holding a person id, for the own-id/global rule and PERSON_ID_PATTERN. */
  person?: 'id';
  /** Its statements check the guard: a principal verified before may be answered in one round trip. */
  guarded?: boolean;
  /** A listing the read standby may answer: while one is in use it takes the full path. */
  standby?: boolean;
}

/** What authorization reads of a request, and the parameters it may replace. */
export interface AuthorizedRequest {
  readonly method?: string;
  /** The URL's parameters as sent. */
  readonly params: Record<string, string>;
  /** The URL's parameters as validated (person ids upper-cased). */
  validParams?: { id?: string };
}

/** Returns the authority of the grant, or undefined when no role allows the request. */
export type Authorize = (req: AuthorizedRequest, route: AuthRoute, principal: Principal) => Authority | undefined;

export function createAuthorize(roles: Acl, personIdPattern: RegExp): Authorize {
  return (req, route, principal) => {
    const method = (req.method === 'HEAD' ? 'GET' : req.method) as Method;
    // Rows made before PERSON_ID_PATTERN stay readable, changeable (to deactivate them
    // before removal) and removable by administrators, under the id as stored: such ids
    // were never upper-cased. No one creates rows under one.
    const legacy = route.person !== undefined && !personIdPattern.test(req.params[route.person] ?? '');
    const person = route.person ? (legacy ? req.params[route.person] : req.validParams![route.person]) : undefined;
    const grant = aclGrant(roles, principal.roles, method, route.acl!, person, principal.id);
    if (!grant) return undefined;
    if (legacy) {
      const admin = aclAllows(roles, principal.roles, 'PATCH', ADMINISTER, person, principal.id) || aclAllows(roles, principal.roles, 'POST', ADMINISTER, person, principal.id);
      if (!admin || method === 'POST') throw errors.badPersonId(personIdPattern.source);
      req.validParams = { ...req.validParams, [route.person!]: person };
    }
    return authorityOf(roles, principal.roles, method, grant, person, principal.id);
  };
}
