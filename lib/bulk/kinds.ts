// The kinds of record in an NDJSON export, one line each (lib/kinds/registry.ts, by
// their NDJSON names):
//   {"kind":"person","id":...,"data":{...}}
//   {"kind":"unit","id":...,"data":{...}}            (a domiciliary unit, table dus)
//   {"kind":"institution","id":...,"data":{...}}
//   {"kind":"page","id":...,"book":...,"data":{...}}  (a Page of Life, table pols)
//   {"kind":"document","id":...,"fedacct":...,"pol":...,"data":{...},"document":"<base64>"|null}
// A line's fields are its table's columns (columnsOf). KIND_ORDER is the order of the
// foreign keys: people before their pages, pages before their documents; an export
// writes it and an import expects it.
import { BY_BULK, INSERT_ORDER, type BulkKind as Bulk, type KindTable } from '../kinds/registry.js';

export type BulkKind = Bulk;

export const KIND_ORDER: readonly BulkKind[] = INSERT_ORDER.map((k) => k.bulk);

/** Names accepted in `--kinds` and `?kinds=`: the kinds, their plurals, and the API's and tables' names. */
const NAMES: Record<string, BulkKind> = {};
for (const k of INSERT_ORDER) {
  for (const name of [k.bulk, k.plural, k.feed, k.table, k.path.slice(1), ...k.aliases]) NAMES[name] = k.bulk;
}

export class KindError extends Error {}

/** The kinds a comma-separated list names, in KIND_ORDER; all of them for undefined or ''. */
export function parseKinds(list: string | undefined): BulkKind[] {
  if (list === undefined || list.trim() === '') return [...KIND_ORDER];
  const wanted = new Set<BulkKind>();
  for (const name of list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const kind = Object.hasOwn(NAMES, name) ? NAMES[name] : undefined;
    if (!kind) throw new KindError(`unknown kind ${JSON.stringify(name)}: expected ${KIND_ORDER.join(', ')}`);
    wanted.add(kind);
  }
  return KIND_ORDER.filter((k) => wanted.has(k));
}

/** The table each kind lives in (from code, never from a request). */
export const TABLE = Object.fromEntries(INSERT_ORDER.map((k) => [k.bulk, k.table])) as Record<BulkKind, KindTable>;

/** A kind's count in messages: `3 people`, `1 page`. */
export function countOf(kind: BulkKind, n: number): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? kind : BY_BULK[kind].plural}`;
}
