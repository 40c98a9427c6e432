// The API of DESIGN §4, one row per method and path: the ACL name, which parameter is
// the person, how the parameters are checked, what the audit trail records when the
// request ends, and the handler. `acl: null` is public. HEAD is served by a GET row.
import type { Method } from './auth/acl.js';
import type { AclName } from './acl-names.js';
import type { Config } from './config.js';
import type { AuditEvent } from './audit/entry.js';
import type { ResourceContext, Params } from './resources/context.js';
import type { Reply } from './http/reply.js';
import { newRecordId, personId, validId } from './http/params.js';
import { DUS, INSTITUTIONS, PEOPLE, createRecord, getRecord, listRecords, patchRecord, type RecordKind } from './resources/records.js';
import { createPerson, deletePerson, patchPerson } from './resources/people.js';
import { createPage, deletePage, getPage, listBook, patchPage } from './resources/pols.js';
import { getDocument, listPageDocs, listPersonDocs } from './resources/documents.js';
import { createDocument, deleteDocument, patchDocument } from './resources/uploads.js';
import { openapiDocument } from './pages/openapi.js';
import { docsPage } from './pages/docs.js';
import { pageReply } from './pages/html.js';
import { listAudit } from './resources/audit.js';
import { exportFederation } from './resources/export.js';
import { indexPage } from './pages/index.js';
import type { PasswordPages } from './pages/password.js';
import { json } from './http/reply.js';

/**
 * What the audit trail records after a request ends (lib/app.ts): successful writes
 * audit themselves in their own statement, so only their refusals are recorded here.
 */
export interface RouteAudit {
  action: AuditEvent['action'];
  /** The parameter naming the record, if any. */
  record?: keyof Params;
  /** The parameter naming the person concerned, if any. */
  person?: keyof Params;
}

export interface Route {
  method: Method;
  path: string;
  /** ACL name checked in roles.cfg (one of the catalogue's, lib/acl-names.ts), or null for a public route. */
  acl: AclName | null;
  /** The parameter holding a person id, for the own-id/global rule and PERSON_ID_PATTERN. */
  person?: 'id';
  /** The body: JSON (the default for POST and PATCH), an HTML form, a document upload (lib/http/upload.ts), or none. */
  body?: 'json' | 'form' | 'upload' | 'none';
  /** Reads query parameters (listings): the query string must then be valid UTF-8. */
  query?: boolean;
  /** Its statements check ctx.guard: it may be answered in one round trip for a principal verified before. */
  guarded?: boolean;
  /**
   * A listing the read standby may answer (READ_DATABASE_URL): while one is in use it
   * takes the full path, since the guard is the primary's to check.
   */
  standby?: boolean;
  audit?: RouteAudit;
  /** Validates and normalizes the URL parameters. */
  params(raw: Record<string, string>): Params;
  handle(ctx: ResourceContext): Promise<Reply> | Reply;
}

const none = (): Params => ({});
const person = (raw: Record<string, string>): Params => ({ id: personId(raw.id) });
const page = (raw: Record<string, string>): Params => ({ id: personId(raw.id), page: validId(raw.page, 'page id') });
const doc = (raw: Record<string, string>): Params => ({ ...page(raw), doc: validId(raw.doc, 'document id') });
const record = (what: string) => (raw: Record<string, string>): Params => ({ record: validId(raw.record, what) });
/** The parameters of a POST that creates a page or a document: its id must be a new record id's. */
const newPage = (pattern: RegExp) => (raw: Record<string, string>): Params => ({ ...page(raw), page: newRecordId(raw.page, 'page id', pattern) });
const newDoc = (pattern: RegExp) => (raw: Record<string, string>): Params => ({ ...page(raw), doc: newRecordId(raw.doc, 'document id', pattern) });

const read = (record?: keyof Params, who: keyof Params | undefined = 'id'): RouteAudit => ({ action: 'read', record, person: who });
const write = (action: AuditEvent['action'], record: keyof Params, who?: keyof Params): RouteAudit => ({ action, record, person: who });

/** The four routes of a kind of record without a person (domiciliary units, institutions). */
function recordRoutes(kind: RecordKind, what: string): Route[] {
  const one = `${kind.path}/:record`;
  const params = record(what);
  return [
    { method: 'GET', path: kind.path, acl: kind.acl.list, query: true, guarded: true, standby: true, audit: { action: 'list' }, params: none, handle: (ctx) => listRecords(ctx, kind) },
    { method: 'GET', path: one, acl: kind.acl.one, guarded: true, audit: read('record', undefined), params, handle: (ctx) => getRecord(ctx, kind, ctx.params.record!) },
    { method: 'POST', path: one, acl: kind.acl.one, guarded: true, audit: write('create', 'record'), params, handle: (ctx) => createRecord(ctx, kind, ctx.params.record!) },
    { method: 'PATCH', path: one, acl: kind.acl.one, guarded: true, audit: write('update', 'record'), params, handle: (ctx) => patchRecord(ctx, kind, ctx.params.record!) },
  ];
}

export function apiRoutes(pages: PasswordPages, config: Config): Route[] {
  const quota = { bytes: config.documentQuotaBytes, count: config.documentQuotaCount };
  const id = (ctx: ResourceContext) => ctx.params.id!;
  const pg = (ctx: ResourceContext) => ctx.params.page!;
  const docIds = (ctx: ResourceContext) => ({ person: ctx.params.id!, page: ctx.params.page!, doc: ctx.params.doc! });
  return [
    { method: 'GET', path: '/', acl: null, params: none, handle: () => indexPage() },
    { method: 'GET', path: '/openapi.json', acl: null, params: none, handle: (ctx) => openapiDocument(ctx.conditions.ifNoneMatch) },
    { method: 'GET', path: '/docs', acl: null, params: none, handle: () => pageReply(200, docsPage(), 'no-cache') },
    { method: 'GET', path: '/login', acl: 'login', params: none, handle: () => json(200, 'true') },

    { method: 'GET', path: '/people', acl: 'people', query: true, guarded: true, standby: true, audit: { action: 'list' }, params: none, handle: (ctx) => listRecords(ctx, PEOPLE) },
    { method: 'GET', path: '/people/:id', acl: 'person', person: 'id', guarded: true, audit: read('id'), params: person, handle: (ctx) => getRecord(ctx, PEOPLE, id(ctx)) },
    { method: 'POST', path: '/people/:id', acl: 'person', person: 'id', guarded: true, audit: write('create', 'id', 'id'), params: person, handle: (ctx) => createPerson(ctx, id(ctx)) },
    { method: 'PATCH', path: '/people/:id', acl: 'person', person: 'id', guarded: true, audit: write('update', 'id', 'id'), params: person, handle: (ctx) => patchPerson(ctx, id(ctx)) },
    { method: 'DELETE', path: '/people/:id', acl: 'person', person: 'id', guarded: true, audit: write('delete', 'id', 'id'), params: person, handle: (ctx) => deletePerson(ctx, id(ctx)) },

    { method: 'GET', path: '/pols/:id', acl: 'book', person: 'id', query: true, guarded: true, standby: true, audit: { action: 'list', record: 'id', person: 'id' }, params: person, handle: (ctx) => listBook(ctx, id(ctx)) },
    { method: 'GET', path: '/pols/:id/:page', acl: 'page', person: 'id', guarded: true, audit: read('page'), params: page, handle: (ctx) => getPage(ctx, id(ctx), pg(ctx)) },
    { method: 'POST', path: '/pols/:id/:page', acl: 'page', person: 'id', guarded: true, audit: write('create', 'page', 'id'), params: newPage(config.recordIdPattern), handle: (ctx) => createPage(ctx, id(ctx), pg(ctx)) },
    { method: 'PATCH', path: '/pols/:id/:page', acl: 'page', person: 'id', guarded: true, audit: write('update', 'page', 'id'), params: page, handle: (ctx) => patchPage(ctx, id(ctx), pg(ctx)) },
    { method: 'DELETE', path: '/pols/:id/:page', acl: 'page', person: 'id', guarded: true, audit: write('delete', 'page', 'id'), params: page, handle: (ctx) => deletePage(ctx, id(ctx), pg(ctx)) },

    { method: 'GET', path: '/personal_docs/:id', acl: 'personaldocs', person: 'id', query: true, guarded: true, standby: true, audit: { action: 'list', record: 'id', person: 'id' }, params: person, handle: (ctx) => listPersonDocs(ctx, id(ctx)) },
    { method: 'GET', path: '/personal_docs/:id/:page', acl: 'poldocs', person: 'id', query: true, guarded: true, standby: true, audit: read('page'), params: page, handle: (ctx) => listPageDocs(ctx, id(ctx), pg(ctx)) },
    { method: 'GET', path: '/personal_docs/:id/:page/:doc', acl: 'document', person: 'id', guarded: true, audit: read('doc'), params: doc, handle: (ctx) => getDocument(ctx, id(ctx), pg(ctx), ctx.params.doc!) },
    { method: 'POST', path: '/personal_docs/:id/:page/:doc', acl: 'document', person: 'id', body: 'upload', guarded: true, audit: write('create', 'doc', 'id'), params: newDoc(config.recordIdPattern), handle: (ctx) => createDocument(ctx, docIds(ctx), ctx.upload!, quota) },
    { method: 'PATCH', path: '/personal_docs/:id/:page/:doc', acl: 'document', person: 'id', guarded: true, audit: write('update', 'doc', 'id'), params: doc, handle: (ctx) => patchDocument(ctx, docIds(ctx)) },
    { method: 'DELETE', path: '/personal_docs/:id/:page/:doc', acl: 'document', person: 'id', guarded: true, audit: write('delete', 'doc', 'id'), params: doc, handle: (ctx) => deleteDocument(ctx, docIds(ctx)) },

    ...recordRoutes(DUS, 'domiciliary unit id'),
    ...recordRoutes(INSTITUTIONS, 'institution id'),

    { method: 'GET', path: '/password/:id', acl: 'password', person: 'id', params: person, handle: pages.show },
    { method: 'POST', path: '/password/:id', acl: 'password', person: 'id', body: 'form', params: person, handle: pages.change },

    { method: 'GET', path: '/audit', acl: 'audit', query: true, guarded: true, standby: true, params: none, handle: listAudit },
    { method: 'GET', path: '/export', acl: 'export', query: true, audit: { action: 'export' }, params: none, handle: exportFederation },
  ];
}
