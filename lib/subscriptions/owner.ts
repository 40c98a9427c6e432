// What a subscription may carry is decided at every batch from its owner's rights now
// (the roles file and the owner's roles as they are), with the rule of GET /changes:
// an owner who lost `subscriptions`, `changes`, a kind asked for, or their login
// (deleted, deactivated) gets nothing more pushed.
import { aclGrant, ADMINISTER, type Acl, type Authority } from '../auth/acl.js';
import type { AclName } from '../acl-names.js';
import { refusal, scopeOf, type Filter } from '../changes/scope.js';
import type { Subscription } from './progress.js';

export const SUBSCRIPTIONS_ACL: AclName = 'subscriptions';

/**
 * Whether a request reaches every account's subscriptions, not only its principal's.
 * A global `subscriptions` grant is what a node's role needs to follow everyone's
 * changes, so it cannot also be the right to read another node's URL or re-point its
 * deliveries: that takes account administration (ACL name `roles` under POST or PATCH,
 * from a global role), as changing another account does.
 */
export function reachesEveryOwner(authority: Authority): boolean {
  return authority.global && (['POST', 'PATCH'] as const).some((m) => authority.grantFor(m, ADMINISTER)?.global === true);
}

export function ownerFilter(acl: Acl, sub: Pick<Subscription, 'owner' | 'ownerRoles' | 'kinds' | 'person'>): Filter | undefined {
  const roles = sub.ownerRoles;
  if (!roles) return undefined;
  const grantFor = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', name: AclName, personId?: string) => aclGrant(acl, roles, method, name, personId, sub.owner);
  if (!grantFor('POST', SUBSCRIPTIONS_ACL)) return undefined;
  const filter: Filter = { scope: scopeOf(grantFor, sub.owner), kinds: sub.kinds ?? undefined, person: sub.person ?? undefined };
  if (refusal(filter) || (!filter.scope.all.length && !filter.scope.own.length)) return undefined;
  return filter;
}
