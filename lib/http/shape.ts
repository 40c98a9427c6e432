// The shapes a listing is written in. `rows` is upstream 0.9.16's `[[{...}], ...]` (one
// array per row, what the Federation portal reads as `person[0].id`); `objects` is
// `[{...}, ...]`; `ndjson` is one object per line (`Accept: application/x-ndjson`), what
// bulk tools read as it streams.

export type ListingShape = 'rows' | 'objects' | 'ndjson';

export interface ListingFormat {
  contentType: string;
  /** Written before the first element and after the last. */
  start: string;
  end: string;
  /** Between two elements. */
  separator: string;
  /** Around each element. */
  before: string;
  after: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
export const NDJSON_TYPE = 'application/x-ndjson';

const FORMATS: Record<ListingShape, ListingFormat> = {
  rows: { contentType: JSON_TYPE, start: '[', end: ']', separator: ',', before: '[', after: ']' },
  objects: { contentType: JSON_TYPE, start: '[', end: ']', separator: ',', before: '', after: '' },
  ndjson: { contentType: NDJSON_TYPE, start: '', end: '', separator: '', before: '', after: '\n' },
};

export function formatOf(shape: ListingShape): ListingFormat {
  return FORMATS[shape];
}

/** The shape a request asks for: NDJSON when its Accept names it, the deployment's default otherwise. */
export function requestedShape(accept: string | undefined, fallback: 'rows' | 'objects'): ListingShape {
  const wanted = (accept ?? '').split(',').map((part) => part.split(';')[0]!.trim().toLowerCase());
  return wanted.includes(NDJSON_TYPE) ? 'ndjson' : fallback;
}
