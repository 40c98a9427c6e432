// What a subscription may carry is decided at every batch from its owner's rights now
// (the roles file and the owner's roles as they are), with the rule of GET /changes:
// an owner who lost `subscriptions`, `changes`, a kind asked for, or their login
// (deleted, deactivated) gets nothing more pushed.
import { aclGrant, type Acl } from '../auth/acl.js';
import { refusal, scopeOf, type Filter } from '../changes/scope.js';
import type { Subscription } from './progress.js';

export const SUBSCRIPTIONS_ACL = 'subscriptions';

export function ownerFilter(acl: Acl, sub: Pick<Subscription, 'owner' | 'ownerRoles' | 'kinds' | 'person'>): Filter | undefined {
  const roles = sub.ownerRoles;
  if (!roles) return undefined;
  const grantFor = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', name: string, personId?: string) => aclGrant(acl, roles, method, name, personId, sub.owner);
  if (!grantFor('POST', SUBSCRIPTIONS_ACL)) return undefined;
  const filter: Filter = { scope: scopeOf(grantFor, sub.owner), kinds: sub.kinds ?? undefined, person: sub.person ?? undefined };
  if (refusal(filter) || (!filter.scope.all.length && !filter.scope.own.length)) return undefined;
  return filter;
}
