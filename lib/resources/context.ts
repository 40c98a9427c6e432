// What a resource handler receives: the request already parsed, authenticated and
// authorized by lib/http and lib/auth, and what it needs to answer. Resources never read
// headers and never write to the response: they return a Reply (lib/http/reply.ts).
import type pg from 'pg';
import type { Sql } from 'sql-template-tag';
import type { Principal, Verified } from '../auth/verified.js';
import type { Authority } from '../auth/acl.js';
import type { ListingShape } from '../http/shape.js';
import type { ListingGate } from '../http/listings.js';
import type { AuditEvent, AuditSource } from '../audit/entry.js';
import { withAudit } from '../audit/entry.js';
import type { Guard } from '../db/run.js';
import type { Upload } from '../http/upload.js';
import type { Reads } from '../db/reads.js';
import type { Passwords } from '../auth/passwords.js';
import type { Departure } from '../http/departure.js';

/** The URL's parameters, decoded and validated; person ids upper-cased. */
export interface Params {
  /** A person (the owner of a book or of documents). */
  id?: string;
  /** A page of life. */
  page?: string;
  /** A personal document. */
  doc?: string;
  /** A domiciliary unit or an institution. */
  record?: string;
  /** A push subscription. */
  sub?: string;
}

export interface ListingOptions {
  /** The shape this request's listings are written in. */
  shape: ListingShape;
  /** Largest `limit` of a keyset page. */
  pageLimitMax: number;
  /** Statement timeout of a listing's statements, in ms. */
  timeout: number;
  /** The worker's limits on listings. */
  gate: ListingGate;
}

export interface ResourceContext {
  pool: pg.Pool;
  /** Where listings and exports read: a hot standby while it keeps up (READ_DATABASE_URL), else `pool`. */
  reads: Reads;
  /** What every statement checks on the way: the principal still stands (lib/auth/guard.ts), or nothing. */
  guard: Guard;
  /** The state the principal was verified in, for what outlives one statement (a change stream re-checks it); undefined on public routes. */
  standing?: Verified;
  /** Undefined only on public routes. */
  principal: Principal | undefined;
  /** What the role that allowed the request lets the resource decide (global, account administration). */
  authority: Authority;
  params: Params;
  query: Record<string, string | string[] | undefined>;
  /** The parsed JSON object body (a form route: the form's fields), on POST and PATCH; for checks only. */
  body: Record<string, unknown>;
  /** The JSON body as sent: stored through PostgreSQL's jsonb, so every number is kept exactly. */
  bodyText: string;
  /** A document upload's bytes and metadata (routes with body 'upload'). */
  upload?: Upload;
  /** HEAD: the reply's body is dropped; a resource may skip reading what only the body needs. */
  head: boolean;
  /** Request headers a resource acts on, already read: If-None-Match, Last-Event-ID. */
  conditions: { ifNoneMatch?: string; lastEventId?: string };
  listing: ListingOptions;
  /** Who is asking and from where, for the audit rows of writes. */
  audit: AuditSource;
  /** The server's password settings, for a password a body sets. */
  passwords: Passwords;
  /** The client's departure (lib/http/departure.ts): what a handler holds is given back on its signal. */
  left: Departure;
}

/** A write statement (with RETURNING) that appends its audit row in the same statement. */
export function audited(ctx: ResourceContext, event: AuditEvent, statement: Sql): Sql {
  return withAudit({ ...ctx.audit, ...event }, statement, ctx.guard);
}
