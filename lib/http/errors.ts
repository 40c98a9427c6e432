// The one catalogue of errors a client can receive. Each has a status and a stable
// code, and its body() is `{"error", "code"}`. The request handler's one error path
// (lib/app.ts) answers whatever a request throws with one of these: a PostgreSQL error
// through fromPgError below, anything else 500 INTERNAL with no detail.

import { classifyDbError } from '../db/errors.js';

export class HttpError extends Error {
  /** The JSON body of this error: `{"error", "code"}` and any fields it carries. */
  body(): string {
    return JSON.stringify({ error: this.message, code: this.code, ...this.fields });
  }

  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** Fields sent beside `error` and `code`, for a client to act on (a sequence to resume from). */
  readonly fields: Record<string, string | number>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, fields: Record<string, string | number> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.fields = fields;
  }
}

const REALM = { 'WWW-Authenticate': 'Basic realm="Thalamus", charset="UTF-8"' };

export const errors = {
  badJson: (why: string) => new HttpError(400, 'INVALID_JSON', `The request body is not valid JSON: ${why}`),
  notObject: () => new HttpError(400, 'BODY_NOT_OBJECT', 'The request body must be a JSON object'),
  tooDeep: (max: number) => new HttpError(400, 'BODY_TOO_DEEP', `The request body nests deeper than ${max} levels`),
  badValue: (why: string) => new HttpError(400, 'INVALID_VALUE', why),
  idMismatch: (field: string) => new HttpError(400, 'ID_MISMATCH', `The body's "${field}" differs from the one in the URL; it cannot be changed`),
  badId: (what: string) => new HttpError(400, 'INVALID_ID', `Invalid ${what} in the URL`),
  badQuery: (why: string) => new HttpError(400, 'INVALID_QUERY', why),
  badPassword: (why: string) => new HttpError(400, 'INVALID_PASSWORD', why),
  badUpload: (why: string) => new HttpError(400, 'INVALID_UPLOAD', why),
  hashMismatch: () => new HttpError(400, 'HASH_MISMATCH', 'The uploaded bytes do not have the sha512 hash the request names; nothing was stored'),
  destinationNotAllowed: (why: string) => new HttpError(400, 'DESTINATION_NOT_ALLOWED', why),
  unauthenticated: () => new HttpError(401, 'UNAUTHENTICATED', 'Valid credentials are required', REALM),
  forbidden: () => new HttpError(403, 'FORBIDDEN', 'Your roles do not allow this request'),
  forbiddenField: (field: string) => new HttpError(403, 'FORBIDDEN_FIELD', `Changing "${field}" here needs the account administration right (ACL name "roles")`),
  roleNotGrantable: (role: string) => new HttpError(403, 'ROLE_NOT_GRANTABLE', `You cannot grant the role "${role}": it gives rights you do not hold`),
  premadeHashForbidden: () => new HttpError(403, 'PREMADE_HASH_FORBIDDEN', 'Only an account administrator may store a pre-made password hash; send the password itself'),
  crossSite: () => new HttpError(403, 'CROSS_SITE_REQUEST', 'A browser sent this write without a CORS preflight (a form or a simple cross-site request); send JSON with Content-Type: application/json, or a document with its own Content-Type'),
  badPersonId: (pattern: string) => new HttpError(400, 'INVALID_ID', `Person ids must match ${pattern} (PERSON_ID_PATTERN)`),
  numberOutOfRange: () => new HttpError(400, 'NUMBER_OUT_OF_RANGE', 'The request body holds a number beyond what can be stored and read back exactly: an exponent beyond ±308, or a non-zero magnitude below 2.2250738585072014e-308 (a double reads it as 0 or loses digits)'),
  badRecordId: (what: string, pattern: string) => new HttpError(400, 'INVALID_ID', `A new ${what} must match ${pattern} (RECORD_ID_PATTERN) and stay the same under Unicode NFKC normalization`),
  notFound: (what = 'Resource') => new HttpError(404, 'NOT_FOUND', `${what} not found`),
  noRoute: () => new HttpError(404, 'NO_ROUTE', 'No such endpoint'),
  methodNotAllowed: (allow: string) => new HttpError(405, 'METHOD_NOT_ALLOWED', 'Method not allowed on this endpoint', { Allow: allow }),
  changesExpired: (purgedThrough: number, since: number) => new HttpError(410, 'CHANGES_EXPIRED',
    `Changes after ${since} are no longer kept (CHANGES_RETENTION_DAYS); read the records in full, then follow from since=now`,
    {}, { oldest_seq: purgedThrough + 1 }),
  changesUnknown: (newest: number, since: number) => new HttpError(410, 'CHANGES_EXPIRED',
    `since=${since} is beyond every change this account may follow (newest ${newest}): it comes from another database or another account; read the records in full, then follow from since=now`,
    {}, { newest_seq: newest }),
  tooManyStreams: () => new HttpError(503, 'TOO_MANY_STREAMS', 'This worker follows as many change feeds as CHANGES_MAX_STREAMS allows; try again shortly', { 'Retry-After': '5' }),
  tooManyOwnStreams: (by: 'account' | 'address') => new HttpError(429, 'TOO_MANY_OWN_STREAMS',
    `This ${by} already follows as many change feeds on this worker as CHANGES_STREAMS_PER_${by.toUpperCase()} allows; close one first`, { 'Retry-After': '5' }),
  rightsRevoked: () => new HttpError(401, 'RIGHTS_REVOKED',
    'This account\'s password, roles or active state changed (or it was locked out) while the request was open; nothing more is sent. Authenticate again', REALM),
  exists: (what: string) => new HttpError(409, 'ALREADY_EXISTS', `${what} already exists`),
  personInUse: (why: string) => new HttpError(409, 'PERSON_IN_USE', why),
  pageInUse: () => new HttpError(409, 'PAGE_IN_USE', 'The page still has personal documents'),
  tooManySubscriptions: (max: number) => new HttpError(409, 'TOO_MANY_SUBSCRIPTIONS', `This account has ${max} subscriptions, as many as SUBSCRIPTION_MAX_PER_OWNER allows; delete one it no longer needs first`),
  changedMeanwhile: () => new HttpError(409, 'CONFLICT', 'The record changed while this request was applied; try again'),
  tooLarge: (limit: number) => new HttpError(413, 'BODY_TOO_LARGE', `The request body exceeds ${limit} bytes`),
  documentQuotaExceeded: (person: string, bytes: number, count: number) => new HttpError(413, 'DOCUMENT_QUOTA_EXCEEDED',
    `Storing this document would take the documents of ${person}'s book past its quota (DOCUMENT_QUOTA_BYTES ${bytes} bytes, DOCUMENT_QUOTA_COUNT ${count} documents); remove some first`),
  unsupportedType: (expected: string) => new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `The request body must be ${expected}`),
  lockedOut: (seconds: number) => new HttpError(429, 'TOO_MANY_FAILED_LOGINS', 'Too many failed logins; try again later', { 'Retry-After': String(seconds) }),
  queryTimeout: () => new HttpError(503, 'QUERY_TIMEOUT', 'The query ran longer than the configured limit', { 'Retry-After': '5' }),
  unavailable: () => new HttpError(503, 'DATABASE_UNAVAILABLE', 'The database is unavailable; try again shortly', { 'Retry-After': '5' }),
  bodiesBusy: (seconds: number) => new HttpError(503, 'BODIES_BUSY', 'Too many large request bodies are being read (yours, or on this server); try again shortly', { 'Retry-After': String(seconds) }),
  uploadsBusy: (seconds: number) => new HttpError(503, 'UPLOADS_BUSY', 'Too many uploads are being stored (yours, or on this server); try again shortly', { 'Retry-After': String(seconds) }),
  listingsBusy: (seconds: number) => new HttpError(503, 'LISTINGS_BUSY', 'Too many listings are open (yours, from your address, or on this server); try again shortly', { 'Retry-After': String(seconds) }),
  internal: () => new HttpError(500, 'INTERNAL', 'Internal server error'),
  headersTooLarge: () => new HttpError(431, 'HEADERS_TOO_LARGE', 'The request headers are too large'),
  badHttp: () => new HttpError(400, 'BAD_REQUEST', 'The request is not valid HTTP'),
  // Answered by the shipped nginx (nginx/thalamus.conf), never by Thalamus itself: its rate
  // limit, and an upstream that refuses or times out. Here so that one catalogue and
  // openapi.json hold every code a client of the federation can meet.
  tooManyRequests: () => new HttpError(429, 'TOO_MANY_REQUESTS', 'Too many requests from this address; slow down', { 'Retry-After': '1' }),
  serverUnavailable: () => new HttpError(502, 'SERVER_UNAVAILABLE', 'Thalamus is not answering; try again shortly', { 'Retry-After': '5' }),
  serverTimeout: () => new HttpError(504, 'SERVER_TIMEOUT', 'Thalamus took too long to answer'),
} as const;

/** The answer to a database failure a client's request can cause (lib/db/errors.ts), if it is one. */
export function fromPgError(err: unknown): HttpError | undefined {
  switch (classifyDbError(err)) {
    case 'bad-input': return errors.badValue('The request holds a value the database cannot store or compare (out of range, badly encoded or too large)');
    case 'timeout': return errors.queryTimeout();
    case 'unavailable': return errors.unavailable();
    default: return undefined;
  }
}
