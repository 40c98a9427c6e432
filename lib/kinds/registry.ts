// The kinds of record the federation holds, one row each: where a kind lives (its
// table and the columns naming its person and its page), its name in each vocabulary
// clients already depend on (the change feed's `pols`, the export's `page`, the ACL's
// `book`/`page`: mapped here, never renamed), the JSON its routes serve, and the rules
// its documents pass (rules.ts). The change feed (lib/changes/kinds.ts), the export and
// import (lib/bulk), the records' routes (lib/resources) and the removal of a person
// derive what they need from these rows. The change-log triggers are SQL
// (sql/020_changes.sql, 022_bulk_changes.sql); test/kinds.test.ts checks them against
// these rows. docs/architecture.md says how to add a kind.
import { DOCUMENT_VALUES, PERSON_VALUES, type KeyRule, type ValueRule } from './rules.js';
import type { AclName } from '../acl-names.js';

export interface KindRow {
  /** The NDJSON `kind` of the export and import, and its name in messages. */
  bulk: string;
  /** Its plural in counts (`3 pages`). */
  plural: string;
  /** Its name in the change log (`changes.kind`), `?kinds=` and subscriptions. */
  feed: string;
  /** Table (from code, never from a request). */
  table: string;
  /**
   * The column naming the person the record belongs to: a person's own `id`, a page's
   * `book`, a document's `fedacct` (both referencing people); null: no person.
   */
  person: string | null;
  /** The record this one lives in, within the same person's: a document's page (`pol`). */
  within: { bulk: string; column: string } | null;
  /** A column of bytes (exported as base64); null: none. */
  bytes: string | null;
  /** Name of one record in messages (`Page not found`). */
  noun: string;
  /** URL prefix of its routes, for Location and Link. */
  path: string;
  /**
   * ACL names: the listing (`list`, whose global grant also shows every change of the
   * kind in the feed), one record (`one`), and the GET name whose grant for one's own id
   * shows one's own changes (`own`; null: no person, only a global grant shows them).
   */
  acl: { list: AclName; one: AclName; own: AclName | null };
  /** What the record's own id must be: a person id, a new record id (RECORD_ID_PATTERN, NFKC), or any id. */
  id: 'person' | 'record' | 'any';
  /** SQL of one record's JSON text, as its routes and the feed's include_docs serve it. */
  json: string;
  /** The columns the server writes into `data` on every write (so a resent document equals the stored one). */
  stamped: readonly string[];
  /** The fields of a body that name the record, in the order they are checked. */
  keys: readonly KeyRule[];
  /** Rules on the other fields' values, in the order they are checked. */
  values: readonly ValueRule[];
  /**
   * Whether an import checks `data` with the keys after `id` and with the values (`id`
   * is checked for every kind). Documents are restored as they were stored: upstream
   * kept their metadata unchecked.
   */
  importChecksData: boolean;
  /** More names accepted in `--kinds` and `?kinds=` (beyond bulk, plural, feed, table and path). */
  aliases: readonly string[];
}

/** The stored document as sent to clients: never a password hash. */
export const PUBLIC_JSON = `(COALESCE(data, '{}'::jsonb) - 'password')::text`;
/** A page as stored. */
export const PAGE_JSON = `COALESCE(data, '{}'::jsonb)::text`;
/** A document's stored `data` fields, then the columns, then the size: the bytes stay in the database. */
export const META_JSON = `(COALESCE(data, '{}'::jsonb) || jsonb_build_object('id', id, 'fedacct', fedacct, 'pol', pol,
  'size', COALESCE(octet_length(document), 0)))::text`;

export const PERSON = {
  bulk: 'person', plural: 'people', feed: 'people', table: 'people', person: 'id', within: null, bytes: null,
  noun: 'Person', path: '/people', acl: { list: 'people', one: 'person', own: 'person' },
  id: 'person', json: PUBLIC_JSON, stamped: ['id'], keys: [{ field: 'id', upper: true }], values: PERSON_VALUES,
  importChecksData: true, aliases: ['persons'],
} as const satisfies KindRow;

export const PAGE = {
  bulk: 'page', plural: 'pages', feed: 'pols', table: 'pols', person: 'book', within: null, bytes: null,
  noun: 'Page', path: '/pols', acl: { list: 'book', one: 'page', own: 'book' },
  id: 'record', json: PAGE_JSON, stamped: ['id', 'book'], keys: [{ field: 'id', upper: false }, { field: 'book', upper: true }], values: [],
  importChecksData: true, aliases: [],
} as const satisfies KindRow;

export const DOCUMENT = {
  bulk: 'document', plural: 'documents', feed: 'documents', table: 'personal_docs', person: 'fedacct', within: { bulk: 'page', column: 'pol' }, bytes: 'document',
  noun: 'Document', path: '/personal_docs', acl: { list: 'personaldocs', one: 'document', own: 'personaldocs' },
  id: 'record', json: META_JSON, stamped: [],
  keys: [{ field: 'id', upper: false }, { field: 'pol', upper: false }, { field: 'fedacct', upper: true }], values: DOCUMENT_VALUES,
  importChecksData: false, aliases: [],
} as const satisfies KindRow;

export const UNIT = {
  bulk: 'unit', plural: 'units', feed: 'units', table: 'dus', person: null, within: null, bytes: null,
  noun: 'Domiciliary unit', path: '/domiciliary-units', acl: { list: 'domiciliaryunits', one: 'domiciliaryunit', own: null },
  id: 'any', json: PUBLIC_JSON, stamped: ['id'], keys: [{ field: 'id', upper: false }], values: [],
  importChecksData: true, aliases: [],
} as const satisfies KindRow;

export const INSTITUTION = {
  bulk: 'institution', plural: 'institutions', feed: 'institutions', table: 'institutions', person: null, within: null, bytes: null,
  noun: 'Institution', path: '/institutions', acl: { list: 'institutions', one: 'institution', own: null },
  id: 'any', json: PUBLIC_JSON, stamped: ['id'], keys: [{ field: 'id', upper: false }], values: [],
  importChecksData: true, aliases: [],
} as const satisfies KindRow;

/** Every kind, in the change feed's order (its messages list them so). */
export const KIND_ROWS = [PERSON, PAGE, DOCUMENT, UNIT, INSTITUTION] as const;

type Row = (typeof KIND_ROWS)[number];
export type FeedKind = Row['feed'];
export type BulkKind = Row['bulk'];
export type KindTable = Row['table'];

/** The rows by their NDJSON name and by their change-log name. */
export const BY_BULK = Object.fromEntries(KIND_ROWS.map((k) => [k.bulk, k])) as { [B in BulkKind]: Extract<Row, { bulk: B }> };
export const BY_FEED = Object.fromEntries(KIND_ROWS.map((k) => [k.feed, k])) as { [F in FeedKind]: Extract<Row, { feed: F }> };

/** Whether the record's person column references a person (pages, documents), rather than being the person's own id. */
export function ownerColumn(kind: KindRow): string | null {
  return kind.person !== null && kind.person !== 'id' ? kind.person : null;
}

/** How many records a record of `kind` needs before it: 0 for people, 1 for a page (its person), 2 for a document. */
function depth(kind: KindRow): number {
  if (kind.within) return depth(BY_BULK[kind.within.bulk as BulkKind]) + 1;
  return ownerColumn(kind) ? 1 : 0;
}

/** The kinds in foreign-key order (people before their pages, pages before their documents): an export writes it, an import expects it. */
export const INSERT_ORDER: readonly Row[] = KIND_ROWS.map((k, i) => ({ k, i, d: depth(k) }))
  .sort((a, b) => a.d - b.d || a.i - b.i).map(({ k }) => k);

/** The kinds whose records belong to a person by a foreign key: what keeps a person from being removed. */
export const DEPENDENTS: readonly Row[] = KIND_ROWS.filter((k) => ownerColumn(k) !== null);

/** The columns of a kind's table, in the export's order: id, person, page, data, bytes. */
export function columnsOf(kind: KindRow): string[] {
  return ['id', ownerColumn(kind), kind.within?.column ?? null, 'data', kind.bytes].filter((c): c is string => c !== null);
}
