// The kinds of record in an NDJSON export, one line each:
//   {"kind":"person","id":...,"data":{...}}
//   {"kind":"unit","id":...,"data":{...}}            (a domiciliary unit, table dus)
//   {"kind":"institution","id":...,"data":{...}}
//   {"kind":"page","id":...,"book":...,"data":{...}}  (a Page of Life, table pols)
//   {"kind":"document","id":...,"fedacct":...,"pol":...,"data":{...},"document":"<base64>"|null}
// KIND_ORDER is the order of the foreign keys: people before their pages, pages before
// their documents; an export writes it and an import expects it.

export type BulkKind = 'person' | 'unit' | 'institution' | 'page' | 'document';

export const KIND_ORDER: readonly BulkKind[] = ['person', 'unit', 'institution', 'page', 'document'];

/** Names accepted in `--kinds` and `?kinds=`: the kinds, their plurals, and the API's and tables' names. */
const NAMES: Record<string, BulkKind> = {
  person: 'person', people: 'person', persons: 'person',
  unit: 'unit', units: 'unit', dus: 'unit', 'domiciliary-units': 'unit',
  institution: 'institution', institutions: 'institution',
  page: 'page', pages: 'page', pols: 'page',
  document: 'document', documents: 'document', personal_docs: 'document',
};

export class KindError extends Error {}

/** The kinds a comma-separated list names, in KIND_ORDER; all of them for undefined or ''. */
export function parseKinds(list: string | undefined): BulkKind[] {
  if (list === undefined || list.trim() === '') return [...KIND_ORDER];
  const wanted = new Set<BulkKind>();
  for (const name of list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const kind = NAMES[name];
    if (!kind) throw new KindError(`unknown kind ${JSON.stringify(name)}: expected ${KIND_ORDER.join(', ')}`);
    wanted.add(kind);
  }
  return KIND_ORDER.filter((k) => wanted.has(k));
}

/** The table each kind lives in (from code, never from a request). */
export const TABLE: Record<BulkKind, 'people' | 'dus' | 'institutions' | 'pols' | 'personal_docs'> = {
  person: 'people', unit: 'dus', institution: 'institutions', page: 'pols', document: 'personal_docs',
};

/** A kind's count in messages: `3 people`, `1 page`. */
export function countOf(kind: BulkKind, n: number): string {
  const plural: Record<BulkKind, string> = { person: 'people', unit: 'units', institution: 'institutions', page: 'pages', document: 'documents' };
  return `${n.toLocaleString('en-US')} ${n === 1 ? kind : plural[kind]}`;
}
