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

/** One change; with a document (include_docs; null when gone), that as `doc`. */
export function changeJson(row: ChangeRow, doc?: string | null): string {
  return doc !== undefined ? `${head(row)},"doc":${doc ?? 'null'}}` : `${head(row)}}`;
}

/** A page in one string: for pages without documents, or bounded by CHANGES_PAGE_BYTES (readPage's). */
export function pageJson(page: ChangePage): string {
  const docs = page.docs;
  return `{"results":[${page.rows.map((r) => changeJson(r, docs && (docs.get(r.seq) ?? null))).join(',')}],"last_seq":${page.lastSeq}}`;
}

export const PAGE_START = '{"results":[';
export const pageEnd = (lastSeq: number) => `],"last_seq":${lastSeq}}`;

/** The event of one change: `id:` is its seq, so a reconnecting EventSource resumes after it. */
export function sseEvent(row: ChangeRow, doc?: string | null): string {
  return `id: ${row.seq}\ndata: ${changeJson(row, doc)}\n\n`;
}

/** The events of changes without documents. */
export function sseEvents(rows: readonly ChangeRow[]): string {
  let out = '';
  for (const row of rows) out += sseEvent(row);
  return out;
}

/**
 * A heartbeat comment; when filtered-out rows moved the follower past its last event,
 * it carries `id:` too, so a reconnect does not scan them again.
 */
export function sseHeartbeat(advancedTo?: number): string {
  return advancedTo === undefined ? ': heartbeat\n\n' : `id: ${advancedTo}\n: heartbeat\n\n`;
}

/**
 * Why the server ended a stream: the client was too slow (`overflow`), the worker drains
 * (`shutdown`), `error`, `since` expired meanwhile (`expired`), the principal's password,
 * roles, active state or lockout changed (`revoked`), CHANGES_STREAM_MAX_SECONDS
 * passed (`lifetime`).
 */
export type CloseReason = 'overflow' | 'shutdown' | 'error' | 'expired' | 'revoked' | 'lifetime';

/** The last event of a stream the server ends. */
export function sseClose(reason: CloseReason, lastSeq: number, extra: Record<string, unknown> = {}): string {
  return `id: ${lastSeq}\nevent: close\ndata: ${JSON.stringify({ reason, last_seq: lastSeq, ...extra })}\n\n`;
}
