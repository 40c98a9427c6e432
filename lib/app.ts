// One worker's request handler: the routes of DESIGN §4 on a Polka router, each going
// through CORS, authentication, the ACL and body parsing before its resource.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import polka from 'polka';
import type { Request as PolkaRequest } from 'polka';
import type pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Acl, Method } from './auth/acl.js';
import { aclAllows, aclGrant, authorityOf, ADMINISTER, NO_AUTHORITY, type Authority } from './auth/acl.js';
import type { Authenticator, Principal } from './auth/authenticate.js';
import { parseBasic } from './auth/basic.js';
import { createCors } from './http/cors.js';
import { errors, fromPgError, HttpError } from './http/errors.js';
import { sendError, sendJson } from './http/respond.js';
import { readJsonObject } from './http/body.js';
import { readForm } from './http/form.js';
import { createCsrf } from './pages/csrf.js';
import { serveStatic } from './pages/static.js';
import type { ResourceContext, Reply } from './resources/context.js';
import { ROUTES, type Route } from './routes.js';
import type { AuditLog } from './audit/log.js';
import { auditEvent } from './audit/requests.js';
import type { AuditSource } from './audit/entry.js';
import { createClientAddress } from './http/client.js';
import { setSecurityHeaders } from './http/headers.js';
import { isUnpreflightedBrowserWrite } from './http/cross-site.js';
import { requestedShape } from './http/shape.js';
import type { ListingGate } from './http/listings.js';

export interface AppDeps {
  config: Config;
  pool: pg.Pool;
  auth: Authenticator;
  /** Current roles file; a function so a reload can swap it. */
  acl: () => Acl;
  log: Logger;
  /** Where reads of health records and refused logins are audited (batched). */
  audit?: AuditLog;
  /** Called once per finished request (metrics). */
  observe?: (info: RequestInfo) => void;
  /** The worker's limits on listings. */
  listings: ListingGate;
  /** Routes made with this worker's services (the change feed, subscriptions), after ROUTES. */
  routes?: Route[];
}

export interface RequestInfo { method: string; route: string; status: number; seconds: number }

type Req = PolkaRequest & { id?: string; route?: string; principal?: Principal; client?: string; validParams?: Record<string, string> };

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function createApp(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, pool, auth, log } = deps;
  const cors = createCors(config.corsOrigins);
  const allowed = new Map<string, Set<string>>();
  const csrf = createCsrf(config.secretKey);
  const clientAddress = createClientAddress(config.trustedProxies);

  const fail = (err: unknown, req: Req, res: ServerResponse) => {
    const known = err instanceof HttpError ? err : fromPgError(err);
    if (!known) log.error({ err, reqId: req.id, route: req.route }, 'request failed');
    if (res.headersSent) { res.destroy(); return; }
    sendError(res, known ?? errors.internal());
  };

  const app = polka<Req>({
    onError: (err, req, res) => fail(err, req, res),
    onNoMatch: (req, res) => {
      if (req.method === 'OPTIONS') return cors.preflight(req, res);
      const methods = [...allowed.entries()].find(([pattern]) => matches(pattern, req.path))?.[1];
      fail(methods ? errors.methodNotAllowed([...methods].join(', ')) : errors.noRoute(), req, res);
    },
  });

  // Every request: an id, CORS headers, one log line when it ends.
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.client = clientAddress(req);
    res.setHeader('X-Request-Id', req.id);
    setSecurityHeaders(res);
    cors.decorate(req, res);
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = req.route ?? 'unmatched';
      log.info({ reqId: req.id, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, account: req.principal?.id }, 'request');
      deps.observe?.({ method: req.method, route, status: res.statusCode, seconds });
    });
    // 'close' also fires for a listing the client abandoned mid-stream: it was still read.
    res.once('close', () => {
      const event = deps.audit && auditEvent(req.method, req.route, req.validParams, res.statusCode);
      if (!event) return;
      const source = auditSource(req);
      // A refused login has no principal: the actor is the account it tried.
      if (event.action === 'login_locked') source.actor = parseBasic(req.headers.authorization)?.account ?? null;
      deps.audit!.record({ ...source, ...event });
    });
    next();
  });

  app.use(serveStatic());

  for (const route of [...ROUTES, ...(deps.routes ?? [])]) {
    const verbs = route.methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
    allowed.set(route.path, new Set([...(allowed.get(route.path) ?? []), ...verbs, 'OPTIONS']));
    const handler = async (req: Req, res: ServerResponse) => {
      req.route = route.path;
      const method = (req.method === 'HEAD' ? 'GET' : req.method) as Method;
      // Before anything else: such a request is refused whoever sent it (CSRF).
      if (!route.form && isUnpreflightedBrowserWrite(req)) throw errors.crossSite();
      if (route.query && !validQueryEncoding(req.url)) throw errors.badQuery('The query string is not valid percent-encoded UTF-8');
      const params = route.params(req.params);
      req.validParams = params;
      let principal: Principal | undefined;
      let authority: Authority = NO_AUTHORITY;
      if (route.acl !== null) {
        principal = await auth.authenticate(req.headers.authorization, { address: req.client!, route: route.path, requestId: req.id! });
        req.principal = principal;
        const acl = deps.acl();
        const person = route.person ? params[route.person] : undefined;
        const grant = aclGrant(acl, principal.roles, method, route.acl, person, principal.id);
        if (!grant) throw errors.forbidden();
        authority = authorityOf(acl, principal.roles, method, grant, person, principal.id);
        // Rows made before PERSON_ID_PATTERN stay readable (and removable) by administrators.
        if (route.person && !config.personIdPattern.test(req.params[route.person] ?? '')) {
          const admin = aclAllows(acl, principal.roles, 'PATCH', ADMINISTER, person, principal.id) || aclAllows(acl, principal.roles, 'POST', ADMINISTER, person, principal.id);
          if (!admin || !(method === 'GET' || method === 'DELETE')) throw errors.badPersonId(config.personIdPattern.source);
        }
      } else if (route.person && !config.personIdPattern.test(req.params[route.person] ?? '')) {
        throw errors.badPersonId(config.personIdPattern.source);
      }
      let body: Record<string, unknown> = {};
      let bodyText = '{}';
      if ((method === 'POST' || method === 'PATCH') && !route.ownBody?.includes(method)) {
        if (route.form) body = await readForm(req, config.bodyLimit);
        else ({ value: body, text: bodyText } = await readJsonObject(req, config.bodyLimit));
      }
      const ctx: ResourceContext = {
        pool, principal, authority, params, query: req.query, body, bodyText, head: req.method === 'HEAD', res, csrf, audit: auditSource(req),
        listingShape: requestedShape(req.headers.accept, config.listingShape), pageLimitMax: config.pageLimitMax, documentLimit: config.documentLimit, listingTimeout: config.listingTimeout,
        listings: deps.listings,
      };
      const reply = await route.handle(ctx, req);
      if (reply) send(res, reply);
    };
    for (const verb of verbs) app.add(verb as never, route.path, handler as never);
  }

  return app.handler as unknown as (req: IncomingMessage, res: ServerResponse) => void;
}

function auditSource(req: Req): AuditSource {
  return { actor: req.principal?.id ?? null, roles: req.principal?.roles ?? [], route: req.route ?? 'unmatched', client: req.client ?? null, requestId: req.id ?? null };
}

function send(res: ServerResponse, reply: Reply & { bytes?: Buffer }): void {
  if (reply.bytes) {
    res.statusCode = reply.status;
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    res.setHeader('Content-Length', reply.bytes.length);
    res.end(reply.bytes);
  } else if (reply.json !== undefined) {
    sendJson(res, reply.status, reply.json, reply.headers);
  } else {
    res.statusCode = reply.status;
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    res.end();
  }
}

/** Whether every name and value of the URL's query string decodes as UTF-8 (querystring would replace what does not). */
function validQueryEncoding(url: string | undefined): boolean {
  const search = url?.split('?').slice(1).join('?') ?? '';
  try {
    for (const part of search.split('&')) decodeURIComponent(part.replace(/\+/g, ' '));
    return true;
  } catch {
    return false;
  }
}

/** Whether a route pattern such as `/people/:id` matches a path. */
function matches(pattern: string, path: string): boolean {
  const a = pattern.split('/');
  const b = path.split('/');
  return a.length === b.length && a.every((seg, i) => seg.startsWith(':') ? b[i] !== '' : seg === b[i]);
}

export type { Route };
