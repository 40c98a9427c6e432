// The five kinds of record the change log names, with the ACL names that let a
// principal see their changes and the SQL of each one's current document (for
// include_docs): a person without the password, a page, a document's metadata (never
// its bytes), a domiciliary unit, an institution, each as its own route serves it.
import { PUBLIC_JSON } from '../resources/records.js';
import { PAGE_JSON } from '../resources/pols.js';
import { META_JSON } from '../resources/documents.js';
import type { AclName } from '../acl-names.js';

export type Kind = 'people' | 'pols' | 'documents' | 'units' | 'institutions';

export const KINDS: readonly Kind[] = ['people', 'pols', 'documents', 'units', 'institutions'];

export interface KindSpec {
  /**
   * GET ACL name whose global grant shows every change of this kind: the listing
   * right, since the feed enumerates records as a listing does.
   */
  all: AclName;
  /** GET ACL name whose grant for the principal's own id shows their own changes; null: no person. */
  own: AclName | null;
}

export const KIND_SPECS: Record<Kind, KindSpec> = {
  people: { all: 'people', own: 'person' },
  pols: { all: 'book', own: 'book' },
  documents: { all: 'personaldocs', own: 'personaldocs' },
  units: { all: 'domiciliaryunits', own: null },
  institutions: { all: 'institutions', own: null },
};

export function isKind(value: string): value is Kind {
  return (KINDS as readonly string[]).includes(value);
}

/**
 * The current document of the change row aliased `c` (kind, id, person), as the
 * record's own route serves it: only while the record still belongs to that person,
 * so a page moved to another book is not shown to the follower of the first. NULL
 * once deleted. Unqualified columns inside each subquery are the record's table's.
 */
export const DOC_SQL = `CASE c.kind
  WHEN 'people' THEN (SELECT ${PUBLIC_JSON} FROM people WHERE id = c.id)
  WHEN 'pols' THEN (SELECT ${PAGE_JSON} FROM pols WHERE id = c.id AND book IS NOT DISTINCT FROM c.person)
  WHEN 'documents' THEN (SELECT ${META_JSON} FROM personal_docs WHERE id = c.id AND fedacct IS NOT DISTINCT FROM c.person)
  WHEN 'units' THEN (SELECT ${PUBLIC_JSON} FROM dus WHERE id = c.id)
  WHEN 'institutions' THEN (SELECT ${PUBLIC_JSON} FROM institutions WHERE id = c.id)
END`;
