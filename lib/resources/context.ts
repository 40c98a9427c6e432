// What a resource handler receives: the request already parsed, authenticated and
// authorized by lib/http and lib/auth. Resources never read headers.
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Sql } from 'sql-template-tag';
import type { Principal } from '../auth/authenticate.js';
import type { Authority } from '../auth/acl.js';
import type { ListingShape } from '../http/shape.js';
import type { Csrf } from '../pages/csrf.js';
import type { AuditEvent, AuditSource } from '../audit/entry.js';
import { withAudit } from '../audit/entry.js';
import type { ListingGate } from '../http/listings.js';

export interface ResourceContext {
  pool: pg.Pool;
  /** Undefined only on public routes. */
  principal: Principal | undefined;
  /** What the role that allowed the request lets the resource decide (global, account administration). */
  authority: Authority;
  /** URL parameters, decoded and validated; person ids upper-cased. */
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  /** The parsed JSON object body (a route with `form` set: the form's fields), on POST and PATCH; for checks only. */
  body: Record<string, unknown>;
  /** The JSON body as sent: stored through PostgreSQL's jsonb, so every number is kept exactly. */
  bodyText: string;
  /** HEAD: answer with headers only. */
  head: boolean;
  res: ServerResponse;
  /** Signs and checks the CSRF tokens of HTML forms. */
  csrf: Csrf;
  /** The shape listings are written in for this request (lib/http/shape.ts). */
  listingShape: ListingShape;
  pageLimitMax: number;
  /** Largest document an upload may carry (DOCUMENT_LIMIT). */
  documentLimit: number;
  listingTimeout: number;
  /** The worker's limits on listings (lib/http/listings.ts). */
  listings: ListingGate;
  /** Who is asking and from where, for the audit rows of writes. */
  audit: AuditSource;
}

/** A write statement (with RETURNING) that appends its audit row in the same statement. */
export function audited(ctx: ResourceContext, event: AuditEvent, statement: Sql): Sql {
  return withAudit({ ...ctx.audit, ...event }, statement);
}

/** A complete JSON answer; `json` is already serialized text. */
export interface Reply { status: number; json?: string; headers?: Record<string, string> }
