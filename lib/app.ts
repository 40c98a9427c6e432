// One worker's request handler, the request path of DESIGN §1: a route of lib/routes.ts
// on a Polka router; then lib/http (the request's id, CORS, the cross-site check, the
// parameters), lib/auth's admit (who, may they, and under which guard: lib/auth/admit.ts),
// lib/resources (the statement), lib/http (the reply).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import polka from 'polka';
import type { Request as PolkaRequest } from 'polka';
import type pg from 'pg';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { NO_AUTHORITY, type Authority } from './auth/acl.js';
import type { Auth } from './auth/admit.js';
import type { Passwords } from './auth/passwords.js';
import type { Principal, Verified } from './auth/verified.js';
import { createCors } from './http/cors.js';
import { errors, fromPgError, HttpError } from './http/errors.js';
import { sendError, sendReply } from './http/reply.js';
import { readJsonObject, refuseUnread } from './http/body.js';
import { readForm } from './http/form.js';
import { createClientAddress } from './http/client.js';
import { setSecurityHeaders } from './http/headers.js';
import { isUnpreflightedBrowserWrite } from './http/cross-site.js';
import { requestedShape } from './http/shape.js';
import { readUpload, type Upload } from './http/upload.js';
import { createAdmission, isLargeBody, LARGE_BODIES, type Admission } from './http/admission.js';
import { ClientLeft, Departure, unlessLeft, whenAborted } from './http/departure.js';
import type { ListingGate } from './http/listings.js';
import { UNGUARDED, type Guard } from './db/run.js';
import { DatabaseUnavailableError } from './db/errors.js';
import { createCsrf } from './pages/csrf.js';
import { passwordPages } from './pages/password.js';
import { serveStatic } from './pages/static.js';
import type { ResourceContext, Params } from './resources/context.js';
import { apiRoutes, type Route } from './routes.js';
import type { AuditLog } from './audit/log.js';
import type { AuditSource } from './audit/entry.js';
import type { Reads } from './db/reads.js';

export interface AppDeps {
  config: Config;
  pool: pg.Pool;
  /** Where listings and exports read (lib/db/reads.ts). */
  reads: Reads;
  /** Who is asking, may they, under which guard (lib/auth/admit.ts). */
  auth: Auth;
  /** The worker's password settings, for a password a body sets. */
  passwords: Passwords;
  log: Logger;
  /** Where reads of health records and refused logins are audited (batched). */
  audit?: AuditLog;
  /** Called once per finished request (metrics). */
  observe?: (info: RequestInfo) => void;
  /** The worker's limits on listings. */
  listings: ListingGate;
  /** Routes made with this worker's services (the change feed, subscriptions), after the API's. */
  routes?: Route[];
}

export interface RequestInfo { method: string; route: string; status: number; seconds: number }

type Req = PolkaRequest & {
  id?: string; route?: Route; label?: string; client?: string; validParams?: Params;
  /** Whether the client left, and a signal that aborts when it does (lib/http/departure.ts): made before anything is awaited. */
  left?: Departure;
  /** Set by auth.admit: the account the credentials name, the principal, what its verification relied on. */
  account?: string; principal?: Principal; standing?: Verified;
};

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** The order methods are listed in an Allow header. */
const ALLOW_ORDER = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'];

export interface App {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Every route the handler serves: the API's (lib/routes.ts), then AppDeps.routes. */
  routes: readonly Route[];
}

export function createApp(deps: AppDeps): App {
  const { config, pool, auth, log } = deps;
  const cors = createCors(config.corsOrigins);
  const allowed = new Map<string, Set<string>>();
  const clientAddress = createClientAddress(config.trustedProxies);
  const admissions: Admissions = {
    uploads: createAdmission(config.uploadConcurrency, config.listingQueueTimeout, errors.uploadsBusy),
    large: createAdmission(LARGE_BODIES, config.listingQueueTimeout, errors.bodiesBusy),
  };

  const fail = (err: unknown, req: Req, res: ServerResponse) => {
    if (err instanceof ClientLeft) { res.destroy(); return; }
    const known = err instanceof HttpError ? err : fromPgError(err);
    if (!known) log.error({ err, reqId: req.id, route: req.route?.path }, 'request failed');
    else if (err instanceof DatabaseUnavailableError) log.warn({ err: err.cause, reqId: req.id }, 'database unavailable');
    if (res.headersSent) { res.destroy(); return; }
    sendError(res, known ?? errors.internal());
  };

  const app = polka<Req>({
    onError: (err, req, res) => fail(err, req, res),
    onNoMatch: (req, res) => {
      if (req.method === 'OPTIONS') return cors.preflight(req, res);
      const methods = [...allowed.entries()].find(([pattern]) => matches(pattern, req.path))?.[1];
      fail(methods ? errors.methodNotAllowed(ALLOW_ORDER.filter((m) => methods.has(m)).join(', ')) : errors.noRoute(), req, res);
    },
  });

  // Every request: an id, security and CORS headers, one log line and its audit row when it ends.
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.left = new Departure(res);
    req.client = clientAddress(req);
    res.setHeader('X-Request-Id', req.id);
    setSecurityHeaders(res);
    cors.decorate(req, res);
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = req.route?.path ?? req.label ?? 'unmatched';
      log.info({ reqId: req.id, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, account: req.principal?.id }, 'request');
      deps.observe?.({ method: req.method, route, status: res.statusCode, seconds });
    });
    // 'close' also fires for a listing the client abandoned mid-stream: it was still read.
    res.once('close', () => { if (deps.audit) auditAfter(deps.audit, req, res.statusCode); });
    next();
  });

  app.use(serveStatic());

  /** Builds the context and answers; throws GuardFailed (before writing anything) when `guard` no longer holds. */
  async function answer(req: Req, res: ServerResponse, route: Route, authority: Authority, guard: Guard, body: Body): Promise<void> {
    const ctx: ResourceContext = {
      pool, reads: deps.reads, guard, standing: req.standing, principal: req.principal, authority, passwords: deps.passwords, params: req.validParams!, query: req.query, body: body.value, bodyText: body.text, upload: body.upload,
      head: req.method === 'HEAD', audit: sourceOf(req), left: req.left!,
      conditions: { ifNoneMatch: header(req, 'if-none-match'), lastEventId: header(req, 'last-event-id') },
      listing: { shape: requestedShape(req.headers.accept, config.listingShape), pageLimitMax: config.pageLimitMax, timeout: config.listingTimeout, gate: deps.listings },
    };
    await sendReply(res, await route.handle(ctx), ctx.head);
  }

  const routes = [...apiRoutes(passwordPages(createCsrf(config.secretKey), deps.passwords), config), ...(deps.routes ?? [])];
  for (const route of routes) {
    const verbs = route.method === 'GET' ? ['GET', 'HEAD'] : [route.method];
    allowed.set(route.path, new Set([...(allowed.get(route.path) ?? []), ...verbs, 'OPTIONS']));
    const handler = async (req: Req, res: ServerResponse) => {
      req.route = route;
      // Before anything else: such a request is refused whoever sent it (CSRF).
      if (route.body !== 'form' && isUnpreflightedBrowserWrite(req)) throw errors.crossSite();
      if (route.query && !validQueryEncoding(req.url)) throw errors.badQuery('The query string is not valid percent-encoded UTF-8');
      req.validParams = route.params(req.params);
      if (route.acl === null) {
        if (route.person && !config.personIdPattern.test(req.params[route.person] ?? '')) throw errors.badPersonId(config.personIdPattern.source);
        return answer(req, res, route, NO_AUTHORITY, UNGUARDED, await bodyOf(req, route, config, admissions));
      }
      // Read once, after the principal may make the request; a guard that failed answers again with it.
      let body: Body | undefined;
      await auth.admit(req, route, async (authority, guard) => answer(req, res, route, authority, guard, body ??= await bodyOf(req, route, config, admissions)));
    };
    for (const verb of verbs) app.add(verb as never, route.path, handler as never);
  }

  return { handler: app.handler as unknown as (req: IncomingMessage, res: ServerResponse) => void, routes };
}

interface Body { value: Record<string, unknown>; text: string; upload?: Upload }

interface Admissions { uploads: Admission; large: Admission }

async function bodyOf(req: Req, route: Route, config: Config, admissions: Admissions): Promise<Body> {
  if (req.method !== 'POST' && req.method !== 'PATCH') return { value: {}, text: '{}' };
  const limit = config.bodyLimit;
  const left = req.left!.signal;
  if (route.body === 'upload') {
    await admitted(req, admissions.uploads);
    return { value: {}, text: '{}', upload: await unlessLeft(left, readUpload(req, config.documentLimit)) };
  }
  if (isLargeBody(req.headers)) await admitted(req, admissions.large);
  if (route.body === 'form') return { value: await unlessLeft(left, readForm(req, limit)), text: '{}' };
  return unlessLeft(left, readJsonObject(req, limit));
}

/**
 * Waits for the request's turn to be read; the turn is held until its response closes
 * (done, or the client gone), and is never taken for a client that has already left.
 */
async function admitted(req: Req, admission: Admission): Promise<void> {
  const left = req.left!.signal;
  if (left.aborted) throw new ClientLeft();
  const release = await admission.admit(req.principal?.id ?? req.client ?? '', left).catch((err: unknown) => {
    if (left.aborted) throw new ClientLeft();
    // The body was not read: answer, then close once the client has read the answer.
    throw err instanceof HttpError ? refuseUnread(req, err) : err;
  });
  whenAborted(left, release);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function sourceOf(req: Req): AuditSource {
  return { actor: req.principal?.id ?? null, roles: req.principal?.roles ?? [], route: req.route?.path ?? 'unmatched', client: req.client ?? null, requestId: req.id ?? null };
}

/**
 * The audit row of a finished request, as its route declares: reads and refused writes
 * of health records (a successful write wrote its own row in its statement), not 401s
 * (a failed login's row is written with the failure), and a 429 on any route as a
 * refused login under the account it tried.
 */
function auditAfter(audit: AuditLog, req: Req, status: number): void {
  const source = sourceOf(req);
  if (status === 429) {
    audit.record({ ...source, actor: req.account ?? null, action: 'login_locked', recordId: null, person: null, status });
    return;
  }
  const spec = req.route?.audit;
  if (!spec || status === 401) return;
  const write = req.method === 'POST' || req.method === 'PATCH' || req.method === 'DELETE';
  if (write && status >= 200 && status < 300) return;
  const p = req.validParams ?? {};
  audit.record({ ...source, action: spec.action, recordId: spec.record ? p[spec.record] ?? null : null, person: spec.person ? p[spec.person] ?? null : null, status });
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
