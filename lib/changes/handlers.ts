// GET /changes: HTTP in, the change modules out. Reads the query (`feed`, `since` or
// Last-Event-ID, `limit`, `kinds`, `person`, `include_docs`, `timeout`), decides the
// principal's scope, and hands over to the normal page, the longpoll or the stream.
// Longpolls and streams hold a slot of the worker's (streams.ts); pages with documents
// are written as they are read (page.ts), under the listing gate.
import type pg from 'pg';
import type { Route } from '../routes.js';
import type { ResourceContext } from '../resources/context.js';
import { empty, json, sendReply, type Reply } from '../http/reply.js';
import { errors, HttpError } from '../http/errors.js';
import { personId } from '../http/params.js';
import { single } from '../resources/listing.js';
import type { Hub } from './hub.js';
import type { Reads } from '../db/reads.js';
import { isKind, KIND_LIST, type Kind } from './kinds.js';
import { positionNow, readPage } from './reader.js';
import { CHANGES_ACL, refusal, scopeOf, type Filter } from './scope.js';
import { pageJson } from './format.js';
import { longpoll } from './longpoll.js';
import { streamChanges } from './sse.js';
import { groupBytes, withTurn, writePage, type DocsOptions } from './page.js';
import { createStreams, type StreamOwner, type Streams } from './streams.js';
import { createStandingCheck, type StandingCheck } from '../auth/standing.js';

export interface ChangesSettings {
  limitMax: number;
  longpollMaxMs: number;
  heartbeatMs: number;
  sseBuffer: number;
  maxStreams: number;
  /** CHANGES_STREAMS_PER_ACCOUNT, CHANGES_STREAMS_PER_ADDRESS. */
  streamsPerAccount: number;
  streamsPerAddress: number;
  /** IPv6 clients are counted by this prefix (LOCKOUT_IPV6_PREFIX), as the lockout counts them. */
  ipv6Prefix: number;
  /** CHANGES_STREAM_MAX_SECONDS; 0: no limit. */
  streamMaxSeconds: number;
  /** CHANGES_PAGE_BYTES. */
  pageBytes: number;
}

export interface ChangesDeps {
  pool: pg.Pool;
  /** feed=normal pages may come from the read standby (lib/db/reads.ts); longpoll and SSE follow the primary's hub. */
  reads: Reads;
  hub: Hub;
  settings: ChangesSettings;
}

/** What the route's handlers share in a worker: its open streams and the check of their rights. */
interface Shared { streams: Streams; check: StandingCheck }

const DEFAULT_TIMEOUT_MS = 60_000;
const SEQ = /^\d{1,15}$/;

/** `kinds=people,pols`: known names, at least one. */
export function parseKinds(value: string | undefined): Kind[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',');
  if (!names.every(isKind)) throw errors.badQuery(`kinds must be a comma-separated list of: ${KIND_LIST}`);
  return [...new Set(names as Kind[])];
}

export function parseFlag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw errors.badQuery(`${name} must be true or false`);
}

function parseInteger(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw errors.badQuery(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The filter of a request: its kinds and person, within what the principal may see. */
export function requestFilter(ctx: ResourceContext, query: { kinds?: string; person?: string }): Filter {
  const principal = ctx.principal!;
  let person: string | undefined;
  if (query.person !== undefined) {
    try {
      person = personId(query.person);
    } catch {
      throw errors.badQuery('person must be a person id');
    }
  }
  const filter: Filter = { scope: scopeOf(ctx.authority.grantFor, principal.id), kinds: parseKinds(query.kinds), person };
  if (refusal(filter)) throw errors.forbidden();
  return filter;
}

async function getChanges(deps: ChangesDeps, shared: Shared, ctx: ResourceContext): Promise<Reply> {
  const q = (name: string) => single(ctx.query[name]);
  const { settings, pool, hub } = deps;
  const feed = q('feed') ?? 'normal';
  if (feed !== 'normal' && feed !== 'longpoll' && feed !== 'eventsource') throw errors.badQuery('feed must be normal, longpoll or eventsource');
  const filter = requestFilter(ctx, { kinds: q('kinds'), person: q('person') });
  const includeDocs = parseFlag(q('include_docs'), 'include_docs');
  const limit = parseInteger(q('limit'), 'limit', 1, settings.limitMax, settings.limitMax);
  const timeoutMs = parseInteger(q('timeout'), 'timeout', 0, settings.longpollMaxMs, Math.min(DEFAULT_TIMEOUT_MS, settings.longpollMaxMs));
  // A reconnecting EventSource sends the id of the last event it received.
  const lastEventId = feed === 'eventsource' ? ctx.conditions.lastEventId : undefined;
  const given = lastEventId !== undefined && lastEventId !== '' ? lastEventId : q('since');
  if (given !== undefined && given !== 'now' && !SEQ.test(given)) throw errors.badQuery('since must be a sequence number or now');
  if (ctx.head) return empty(200, { 'Content-Type': feed === 'eventsource' ? 'text/event-stream; charset=utf-8' : 'application/json; charset=utf-8' });
  const since = given === 'now' ? 'now' : Number(given ?? 0);
  const owner: StreamOwner = { account: ctx.principal!.id, address: ctx.audit.client ?? '', standing: ctx.standing };
  const gate = ctx.listing.gate;
  // A turn of the listing gate, given up when the client leaves (the request's departure signal).
  const admit = () => gate.admit({ account: owner.account, address: owner.address }, ctx.left.signal);
  const docs: DocsOptions = { db: pool, maxBytes: settings.pageBytes, group: groupBytes(settings.pageBytes), idleMs: gate.settings.idleMs };
  if (feed === 'normal') {
    const from = since === 'now' ? await positionNow(pool, filter.scope) : since;
    // A lagging standby has not issued a `since` the primary gave out: that 410 is the
    // standby's, not the log's, so the primary answers instead.
    const page = await deps.reads.run((db) => readPage(db, filter, from, limit),
      (err) => !(err instanceof HttpError) || err.fields.newest_seq !== undefined);
    if (!includeDocs) return json(200, pageJson(page));
    return { kind: 'stream', write: (res) => withTurn(ctx.left.signal, admit, () => writePage(res, page, docs)) };
  }
  if (feed === 'longpoll') {
    return {
      kind: 'stream',
      async write(res) {
        const page = await longpoll(res, pool, hub, shared.streams, owner, { filter, since, limit, timeoutMs });
        if (!page) return;
        if (!includeDocs) return sendReply(res, json(200, pageJson(page)), false);
        // The documents are read after the rights were checked: checked again before they go.
        const allowed = () => (owner.standing ? shared.check.stands(owner.standing) : Promise.resolve(false));
        await withTurn(ctx.left.signal, admit, () => writePage(res, page, { ...docs, allowed }));
      },
    };
  }
  return {
    kind: 'stream',
    write: (res) => streamChanges(res, pool, hub, shared.streams, owner, {
      filter, since, includeDocs, pageSize: settings.limitMax, heartbeatMs: settings.heartbeatMs,
      bufferBytes: settings.sseBuffer, maxQueued: settings.limitMax * 10, maxSeconds: settings.streamMaxSeconds,
      docs: { ...docs, maxBytes: Infinity }, admit,
    }),
  };
}

export function changesRoutes(deps: ChangesDeps): Route[] {
  let shared: Shared | undefined;
  // Made at the first request: listing the routes (openapi.test.ts) needs no database.
  const sharedOf = (): Shared => {
    if (shared) return shared;
    const { settings } = deps;
    const check = createStandingCheck(deps.pool);
    const streams = createStreams({
      perWorker: settings.maxStreams, perAccount: settings.streamsPerAccount, perAddress: settings.streamsPerAddress, ipv6Prefix: settings.ipv6Prefix, sweepMs: settings.heartbeatMs,
    }, check);
    return (shared = { streams, check });
  };
  return [{ method: 'GET', path: '/changes', acl: CHANGES_ACL, query: true, audit: { action: 'list' }, params: () => ({}), handle: (ctx) => getChanges(deps, sharedOf(), ctx) }];
}
