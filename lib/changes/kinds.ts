// The five kinds of record the change log names (lib/kinds/registry.ts, by their feed
// names), with the ACL names that let a principal see their changes and the SQL of each
// one's current document (for include_docs): a person without the password, a page, a
// document's metadata (never its bytes), a domiciliary unit, an institution, each as
// its own route serves it.
import { BY_FEED, KIND_ROWS, ownerColumn, type FeedKind } from '../kinds/registry.js';
import type { AclName } from '../acl-names.js';

export type Kind = FeedKind;

export const KINDS: readonly Kind[] = KIND_ROWS.map((k) => k.feed);

export interface KindSpec {
  /**
   * GET ACL name whose global grant shows every change of this kind: the listing
   * right, since the feed enumerates records as a listing does.
   */
  all: AclName;
  /** GET ACL name whose grant for the principal's own id shows their own changes; null: no person. */
  own: AclName | null;
}

export const KIND_SPECS = Object.fromEntries(KIND_ROWS.map((k) => [k.feed, { all: k.acl.list, own: k.acl.own }])) as Record<Kind, KindSpec>;

export function isKind(value: string): value is Kind {
  return Object.hasOwn(BY_FEED, value);
}

/** The kinds as the feed's and the subscriptions' messages list them. */
export const KIND_LIST = KINDS.join(', ');

/**
 * The current document of the change row aliased `c` (kind, id, person), as the
 * record's own route serves it: only while the record still belongs to that person,
 * so a page moved to another book is not shown to the follower of the first. NULL
 * once deleted. Unqualified columns inside each subquery are the record's table's.
 */
export const DOC_SQL = `CASE c.kind
${KIND_ROWS.map((k) => {
  const owner = ownerColumn(k);
  return `  WHEN '${k.feed}' THEN (SELECT ${k.json} FROM ${k.table} WHERE id = c.id${owner ? ` AND ${owner} IS NOT DISTINCT FROM c.person` : ''})`;
}).join('\n')}
END`;
