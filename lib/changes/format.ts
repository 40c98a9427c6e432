// The JSON text of a change, of a page of changes (`{"results": [...], "last_seq"}`,
// CouchDB's shape) and of a Server-Sent Event. Built as text: a row is serialized once
// and the same text goes to every follower of a live batch.
import type { ChangeRow, ChangePage } from './reader.js';

const cache = new WeakMap<ChangeRow, string>();

/** `{"seq", "kind", "id", "person", ["page",] "op", ["deleted",] "at"` without the closing brace. */
function head(row: ChangeRow): string {
  let text = cache.get(row);
  if (text === undefined) {
    text = `{"seq":${row.seq},"kind":"${row.kind}","id":${JSON.stringify(row.id)},"person":${JSON.stringify(row.person)}`
      + (row.kind === 'documents' ? `,"page":${JSON.stringify(row.page)}` : '')
      + `,"op":"${row.op}"${row.op === 'delete' ? ',"deleted":true' : ''},"at":"${row.at}"`;
    cache.set(row, text);
  }
  return text;
}

/** One change; with `docs` (include_docs), its current document as `doc` (null when gone). */
export function changeJson(row: ChangeRow, docs?: Map<number, string | null>): string {
  return docs ? `${head(row)},"doc":${docs.get(row.seq) ?? 'null'}}` : `${head(row)}}`;
}

export function pageJson(page: ChangePage): string {
  return `{"results":[${page.rows.map((r) => changeJson(r, page.docs)).join(',')}],"last_seq":${page.lastSeq}}`;
}

/** One event per change: `id:` is its seq, so a reconnecting EventSource resumes after it. */
export function sseEvents(rows: readonly ChangeRow[], docs?: Map<number, string | null>): string {
  let out = '';
  for (const row of rows) out += `id: ${row.seq}\ndata: ${changeJson(row, docs)}\n\n`;
  return out;
}

/**
 * A heartbeat comment; when filtered-out rows moved the follower past its last event,
 * it carries `id:` too, so a reconnect does not scan them again.
 */
export function sseHeartbeat(advancedTo?: number): string {
  return advancedTo === undefined ? ': heartbeat\n\n' : `id: ${advancedTo}\n: heartbeat\n\n`;
}

export type CloseReason = 'overflow' | 'shutdown' | 'error' | 'expired';

/** The last event of a stream the server ends. */
export function sseClose(reason: CloseReason, lastSeq: number, extra: Record<string, unknown> = {}): string {
  return `id: ${lastSeq}\nevent: close\ndata: ${JSON.stringify({ reason, last_seq: lastSeq, ...extra })}\n\n`;
}
