// The API of DESIGN §4: path, methods, ACL name, which parameter is a person id, and
// the resource call. `acl: null` is public.
import type { IncomingMessage } from 'node:http';
import type { Method } from './auth/acl.js';
import type { ResourceContext, Reply } from './resources/context.js';
import { personId, validId } from './http/params.js';
import { DUS, INSTITUTIONS, PEOPLE, createRecord, getRecord, listRecords, patchRecord } from './resources/records.js';
import { createPerson, deletePerson, patchPerson } from './resources/people.js';
import { createPage, deletePage, getPage, listBook, patchPage } from './resources/pols.js';
import { getDocument, listPageDocs, listPersonDocs } from './resources/documents.js';
import { createDocument, deleteDocument, patchDocument } from './resources/uploads.js';
import { readUpload } from './http/upload.js';
import { indexPage } from './pages/index.js';
import { passwordPage } from './pages/password.js';
import { openapiDocument } from './pages/openapi.js';
import { docsPage } from './pages/docs.js';
import { sendHtml } from './pages/html.js';
import { listAudit } from './resources/audit.js';
import { exportFederation } from './resources/export.js';

export interface Route {
  path: string;
  methods: Method[];
  /** ACL name checked in roles.cfg, or null for a public route. */
  acl: string | null;
  /** The parameter holding a person id, for the own-id/global rule. */
  person?: string;
  /** The body is an HTML form (application/x-www-form-urlencoded), not JSON. */
  form?: boolean;
  /** Methods whose body the handler reads itself (an upload's bytes), not parsed as JSON first. */
  ownBody?: Method[];
  /** Reads query parameters (listings): the query string must then be valid UTF-8. */
  query?: boolean;
  /** Validates and normalizes the URL parameters. */
  params(raw: Record<string, string>): Record<string, string>;
  handle(ctx: ResourceContext, req: IncomingMessage): Promise<Reply | void> | Reply | void;
}

const none = () => ({});
const person = (raw: Record<string, string>) => ({ id: personId(raw.id) });
const page = (raw: Record<string, string>) => ({ id: personId(raw.id), page: validId(raw.page, 'page id') });

export const ROUTES: Route[] = [
  { path: '/', methods: ['GET'], acl: null, params: none, handle: (ctx) => indexPage(ctx.res, ctx.head) },
  { path: '/openapi.json', methods: ['GET'], acl: null, params: none, handle: (_ctx, req) => openapiDocument(req.headers['if-none-match']) },
  { path: '/docs', methods: ['GET'], acl: null, params: none, handle: (ctx) => sendHtml(ctx.res, 200, docsPage(), { head: ctx.head, cache: 'no-cache' }) },
  { path: '/login', methods: ['GET'], acl: 'login', params: none, handle: () => ({ status: 200, json: 'true' }) },
  { path: '/people', methods: ['GET'], acl: 'people', query: true, params: none, handle: (ctx) => listRecords(ctx, PEOPLE) },
  {
    path: '/people/:id', methods: ['GET', 'POST', 'PATCH', 'DELETE'], acl: 'person', person: 'id', params: person,
    handle(ctx, req) {
      const id = ctx.params.id!;
      switch (req.method) {
        case 'POST': return createPerson(ctx, id);
        case 'PATCH': return patchPerson(ctx, id);
        case 'DELETE': return deletePerson(ctx, id);
        default: return getRecord(ctx, PEOPLE, id);
      }
    },
  },
  { path: '/pols/:id', methods: ['GET'], acl: 'book', query: true, person: 'id', params: person, handle: (ctx) => listBook(ctx, ctx.params.id!) },
  {
    path: '/pols/:id/:page', methods: ['GET', 'POST', 'PATCH', 'DELETE'], acl: 'page', person: 'id', params: page,
    handle(ctx, req) {
      const { id, page: p } = ctx.params as { id: string; page: string };
      switch (req.method) {
        case 'POST': return createPage(ctx, id, p);
        case 'PATCH': return patchPage(ctx, id, p);
        case 'DELETE': return deletePage(ctx, id, p);
        default: return getPage(ctx, id, p);
      }
    },
  },
  { path: '/personal_docs/:id', methods: ['GET'], acl: 'personaldocs', query: true, person: 'id', params: person, handle: (ctx) => listPersonDocs(ctx, ctx.params.id!) },
  {
    path: '/personal_docs/:id/:pol', methods: ['GET'], acl: 'poldocs', person: 'id', query: true,
    params: (raw) => ({ id: personId(raw.id), pol: validId(raw.pol, 'page id') }),
    handle: (ctx) => listPageDocs(ctx, ctx.params.id!, ctx.params.pol!),
  },
  {
    path: '/personal_docs/:id/:pol/:doc', methods: ['GET', 'POST', 'PATCH', 'DELETE'], acl: 'document', person: 'id', ownBody: ['POST'],
    params: (raw) => ({ id: personId(raw.id), pol: validId(raw.pol, 'page id'), doc: validId(raw.doc, 'document id') }),
    async handle(ctx, req) {
      const ids = { person: ctx.params.id!, page: ctx.params.pol!, doc: ctx.params.doc! };
      switch (req.method) {
        case 'POST': return createDocument(ctx, ids, await readUpload(req, ctx.documentLimit));
        case 'PATCH': return patchDocument(ctx, ids);
        case 'DELETE': return deleteDocument(ctx, ids);
        default: return getDocument(ctx, ids.person, ids.page, ids.doc, req.headers['if-none-match']);
      }
    },
  },
  { path: '/domiciliary-units', methods: ['GET'], acl: 'domiciliaryunits', query: true, params: none, handle: (ctx) => listRecords(ctx, DUS) },
  {
    path: '/domiciliary-units/:du', methods: ['GET', 'POST', 'PATCH'], acl: 'domiciliaryunit',
    params: (raw) => ({ du: validId(raw.du, 'domiciliary unit id') }),
    handle(ctx, req) {
      const id = ctx.params.du!;
      return req.method === 'POST' ? createRecord(ctx, DUS, id) : req.method === 'PATCH' ? patchRecord(ctx, DUS, id) : getRecord(ctx, DUS, id);
    },
  },
  { path: '/password/:id', methods: ['GET', 'POST'], acl: 'password', person: 'id', form: true, params: person, handle: passwordPage },
  { path: '/institutions', methods: ['GET'], acl: 'institutions', query: true, params: none, handle: (ctx) => listRecords(ctx, INSTITUTIONS) },
  {
    path: '/institutions/:inst', methods: ['GET', 'POST', 'PATCH'], acl: 'institution',
    params: (raw) => ({ inst: validId(raw.inst, 'institution id') }),
    handle(ctx, req) {
      const id = ctx.params.inst!;
      return req.method === 'POST' ? createRecord(ctx, INSTITUTIONS, id) : req.method === 'PATCH' ? patchRecord(ctx, INSTITUTIONS, id) : getRecord(ctx, INSTITUTIONS, id);
    },
  },
  { path: '/audit', methods: ['GET'], acl: 'audit', query: true, params: none, handle: listAudit },
  { path: '/export', methods: ['GET'], acl: 'export', query: true, params: none, handle: exportFederation },
];
