// /subscriptions[/:sub]: HTTP in, the subscription store out. Validates the JSON body
// (`url`, `secret`, `kinds`, `person`, `include_docs`, `since`, and `state` on PATCH),
// checks that what is asked for lies within what the principal may follow (the rule
// of GET /changes), and limits a principal to its own subscriptions unless it holds
// account administration (lib/subscriptions/owner.ts).
import type { Route } from '../routes.js';
import type { ResourceContext, Params } from '../resources/context.js';
import type { Reply } from '../http/reply.js';
import { errors } from '../http/errors.js';
import { personId } from '../http/params.js';
import { isKind, KIND_LIST, type Kind } from '../changes/kinds.js';
import { positionNow } from '../changes/reader.js';
import { refusal, scopeOf } from '../changes/scope.js';
import { checkSecret, checkUrl } from './target.js';
import { reachesEveryOwner, SUBSCRIPTIONS_ACL } from './owner.js';
import type { Destinations } from './destination.js';
import { createSubscription, deleteSubscription, getSubscription, listSubscriptions, updateSubscription, type SubscriptionPatch } from './store.js';

export interface SubscriptionDeps {
  allowHttp: boolean;
  /** Subscriptions one account may hold (SUBSCRIPTION_MAX_PER_OWNER). */
  maxPerOwner: number;
  /** Where a URL may point (SUBSCRIPTION_ALLOW_HOSTS): its host is resolved and checked. */
  destinations: Destinations;
  /** Called after a subscription was created or resumed, so delivery starts at once. */
  wake(): void;
}

function kindsOf(value: unknown): Kind[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.length || !value.every((k) => typeof k === 'string' && isKind(k))) {
    throw errors.badValue(`"kinds" must be a non-empty list of: ${KIND_LIST}`);
  }
  return [...new Set(value as Kind[])];
}

function personOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw errors.badValue('"person" must be a person id');
  try {
    return personId(value);
  } catch {
    throw errors.badValue('"person" must be a person id');
  }
}

function flagOf(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw errors.badValue(`"${name}" must be true or false`);
  return value;
}

/** The kinds and person asked for must be ones the principal may follow. */
function checkScope(ctx: ResourceContext, kinds: Kind[] | null, person: string | null): void {
  const scope = scopeOf(ctx.authority.grantFor, ctx.principal!.id);
  if (!scope.all.length && !scope.own.length) throw errors.forbidden();
  if (refusal({ scope, kinds: kinds ?? undefined, person: person ?? undefined })) throw errors.forbidden();
}

/** Whose subscriptions this request reaches: all for an account administrator, else the principal's own. */
const ownerScope = (ctx: ResourceContext) => (reachesEveryOwner(ctx.authority) ? undefined : ctx.principal!.id);

async function create(deps: SubscriptionDeps, ctx: ResourceContext): Promise<Reply> {
  const b = ctx.body;
  const url = checkUrl(b.url, deps.allowHttp);
  const secret = checkSecret(b.secret);
  const kinds = kindsOf(b.kinds);
  const person = personOf(b.person);
  checkScope(ctx, kinds, person);
  // Last: it may wait for DNS.
  await deps.destinations.check(url);
  // The owner's position (lib/changes/reader.ts): an owner who does not see everything is not told the head.
  const head = await positionNow(ctx.pool, scopeOf(ctx.authority.grantFor, ctx.principal!.id));
  let since = head;
  if (b.since !== undefined && b.since !== 'now') {
    if (!Number.isSafeInteger(b.since) || (b.since as number) < 0 || (b.since as number) > head) {
      throw errors.badValue(`"since" must be "now" or a sequence number from 0 to ${head}`);
    }
    since = b.since as number;
  }
  const reply = await createSubscription(ctx, ctx.principal!.id, { url, secret, kinds, person, includeDocs: flagOf(b.include_docs, 'include_docs') ?? false, since }, deps.maxPerOwner);
  deps.wake();
  return reply;
}

async function update(deps: SubscriptionDeps, ctx: ResourceContext, id: string): Promise<Reply> {
  const b = ctx.body;
  const patch: SubscriptionPatch = {};
  if (b.url !== undefined) patch.url = checkUrl(b.url, deps.allowHttp);
  if (b.secret !== undefined) patch.secret = checkSecret(b.secret);
  if ('kinds' in b) patch.kinds = kindsOf(b.kinds);
  if ('person' in b) patch.person = personOf(b.person);
  if (b.include_docs !== undefined) patch.includeDocs = flagOf(b.include_docs, 'include_docs');
  if (b.state !== undefined) {
    if (b.state !== 'active' && b.state !== 'paused') throw errors.badValue('"state" must be "active" (resume) or "paused"');
    patch.state = b.state;
  }
  if (patch.kinds !== undefined || patch.person !== undefined) checkScope(ctx, patch.kinds ?? null, patch.person ?? null);
  if (patch.url !== undefined) await deps.destinations.check(patch.url);
  const reply = await updateSubscription(ctx, id, ownerScope(ctx), patch);
  deps.wake();
  return reply;
}

const subscriptionId = (raw: Record<string, string>): Params => {
  if (!/^\d{1,18}$/.test(raw.sub ?? '')) throw errors.badId('subscription id');
  return { sub: String(BigInt(raw.sub!)) };
};

export function subscriptionRoutes(deps: SubscriptionDeps): Route[] {
  const one = '/subscriptions/:sub';
  const none = (): Params => ({});
  return [
    { method: 'GET', path: '/subscriptions', acl: SUBSCRIPTIONS_ACL, params: none, handle: (ctx) => listSubscriptions(ctx, ownerScope(ctx)) },
    { method: 'POST', path: '/subscriptions', acl: SUBSCRIPTIONS_ACL, params: none, handle: (ctx) => create(deps, ctx) },
    { method: 'GET', path: one, acl: SUBSCRIPTIONS_ACL, params: subscriptionId, handle: (ctx) => getSubscription(ctx, ctx.params.sub!, ownerScope(ctx)) },
    { method: 'PATCH', path: one, acl: SUBSCRIPTIONS_ACL, params: subscriptionId, handle: (ctx) => update(deps, ctx, ctx.params.sub!) },
    { method: 'DELETE', path: one, acl: SUBSCRIPTIONS_ACL, params: subscriptionId, handle: (ctx) => deleteSubscription(ctx, ctx.params.sub!, ownerScope(ctx)) },
  ];
}
