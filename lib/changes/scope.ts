// Which changes a principal may see, and the SQL filter that says so. The route's ACL
// name `changes` lets them follow the feed at all; then, per kind:
// - every change of the kind, when both `changes` and the kind's listing name (people,
//   book, personaldocs, domiciliaryunits, institutions) are granted by a global role;
// - otherwise only the changes whose person is the principal, when the kind has a
//   person and its own-record name (person, book, personaldocs) is granted for their
//   own id. Units and institutions have no person: only a global grant shows them.
// The same rule serves GET /changes and the subscriptions (with the owner's roles).
import sql, { join, type Sql } from 'sql-template-tag';
import type { Method } from '../auth/acl.js';
import type { AclName } from '../acl-names.js';
import { KINDS, KIND_SPECS, type Kind } from './kinds.js';

/** The grant of `name` for `method` (about `personId`, if any), as lib/auth/acl.ts aclGrant answers. */
export type GrantFor = (method: Method, name: AclName, personId?: string) => { global: boolean } | undefined;

export interface Scope {
  /** The principal's own person id. */
  self: string;
  /** Kinds whose every change is visible. */
  all: Kind[];
  /** Kinds whose changes are visible when their person is `self`. */
  own: Kind[];
}

export const CHANGES_ACL: AclName = 'changes';

export function scopeOf(grantFor: GrantFor, self: string): Scope {
  const feed = grantFor('GET', CHANGES_ACL);
  const scope: Scope = { self, all: [], own: [] };
  if (!feed) return scope;
  for (const kind of KINDS) {
    const spec = KIND_SPECS[kind];
    if (feed.global && grantFor('GET', spec.all)?.global) scope.all.push(kind);
    else if (spec.own && grantFor('GET', spec.own, self)) scope.own.push(kind);
  }
  return scope;
}

/**
 * Whether the scope shows every change of every kind. Only then may the reader be told
 * the head of the log; any other reader's positions are changes of its own scope
 * (reader.ts), so they never move with writes it may not see.
 */
export function seesAll(scope: Scope): boolean {
  return KINDS.every((k) => scope.all.includes(k));
}

/** What one follower asked for, within its scope. */
export interface Filter {
  scope: Scope;
  /** Only these kinds (undefined: every kind in scope). */
  kinds?: Kind[];
  /** Only changes of this person. */
  person?: string;
}

export type Refusal = 'kind' | 'person' | undefined;

/**
 * Why a filter asks for more than its scope allows: a kind it may not see at all
 * (`kinds`), or another person's changes (`person`) when some kind asked for (by
 * default, those seen for everyone) is one seen only for oneself.
 */
export function refusal(filter: Filter): Refusal {
  const { scope } = filter;
  if (filter.kinds?.some((k) => !scope.all.includes(k) && !scope.own.includes(k))) return 'kind';
  if (filter.person !== undefined && filter.person !== scope.self) {
    const kinds = filter.kinds ?? scope.all;
    if (kinds.length === 0 || kinds.some((k) => !scope.all.includes(k))) return 'person';
  }
  return undefined;
}

function wanted(filter: Filter, kinds: Kind[]): Kind[] {
  return filter.kinds ? kinds.filter((k) => filter.kinds!.includes(k)) : kinds;
}

/** SQL condition on the change row aliased `c`. */
export function filterSql(filter: Filter): Sql {
  const all = wanted(filter, filter.scope.all);
  const own = filter.person === undefined || filter.person === filter.scope.self ? wanted(filter, filter.scope.own) : [];
  const parts: Sql[] = [];
  if (all.length) parts.push(sql`c.kind = ANY(${all}::text[])`);
  if (own.length) parts.push(sql`(c.kind = ANY(${own}::text[]) AND c.person = ${filter.scope.self}::varchar)`);
  if (!parts.length) return sql`false`;
  const visible = parts.length === 1 ? parts[0]! : sql`(${join(parts, ' OR ')})`;
  return filter.person === undefined ? visible : sql`${visible} AND c.person = ${filter.person}::varchar`;
}

/** The same decision for one row in memory (the live fan-out). */
export function matches(filter: Filter, row: { kind: Kind; person: string | null }): boolean {
  if (filter.kinds && !filter.kinds.includes(row.kind)) return false;
  if (filter.person !== undefined && row.person !== filter.person) return false;
  if (filter.scope.all.includes(row.kind)) return true;
  return filter.scope.own.includes(row.kind) && row.person === filter.scope.self;
}
