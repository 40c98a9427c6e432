// A personal document's metadata, as upstream stores it in personal_docs.data:
// `document_type`, `extension`, `context`, `description` and `hash` (sha512 hex of the
// bytes). The server owns `id`, `fedacct` and `pol` (the URL's), `hash` and `size` (the
// bytes'): a client may send them back unchanged, never different. The extension
// decides the Content-Type a GET answers with, and whether a browser may show it
// (PASSIVE) or must download it.
import { errors } from '../http/errors.js';
import { DOCUMENT } from '../kinds/registry.js';
import { keyViolation, valueViolation } from '../kinds/rules.js';
import { enforce } from './records.js';

export interface DocumentIds { person: string; page: string; doc: string }

/** Extension -> the Content-Type a GET sends. */
export const TYPES: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml',
  pdf: 'application/pdf', txt: 'text/plain; charset=utf-8', json: 'application/json', xml: 'application/xml',
  dcm: 'application/dicom', odt: 'application/vnd.oasis.opendocument.text', mp4: 'video/mp4', ogg: 'audio/ogg',
};

/**
 * Types a browser shows without running anything or going anywhere: served inline.
 * Every other type (SVG, XML that may be XHTML, HTML, video, ...) is served as an
 * attachment in a CSP sandbox (documents.ts): an upload must not script, or steer by a
 * meta refresh, the browser of the professional who opens it.
 */
const PASSIVE = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'application/pdf', 'text/plain']);

/** Fields never stored from a client's metadata: they come from the URL or the bytes. */
export const SERVER_FIELDS = ['id', 'fedacct', 'pol', 'hash', 'size'] as const;

const essence = (type: string) => type.split(';')[0]!.trim().toLowerCase();

export function contentTypeOf(extension: string | null | undefined): string {
  return TYPES[(extension ?? '').replace(/^\./, '').toLowerCase()] ?? 'application/octet-stream';
}

/** Whether a browser may show this type inline (PASSIVE). */
export function isPassive(type: string): boolean {
  return PASSIVE.has(essence(type));
}

/**
 * The upload's rule: an extension must be served as the type the bytes were sent as,
 * unless either says nothing (an extension of no known type, or bytes sent as
 * application/octet-stream). A PATCH of the extension is held to it with the type the
 * stored extension is served as.
 */
export function extensionFits(extension: string, contentType: string): boolean {
  const served = contentTypeOf(extension);
  return served === 'application/octet-stream' || essence(contentType) === 'application/octet-stream' || essence(served) === essence(contentType);
}

/** The extensions served as the same type as `extension` (itself included). */
export function extensionsServedAs(extension: string): string[] {
  const type = contentTypeOf(extension);
  return Object.keys(TYPES).filter((e) => TYPES[e] === type);
}

/** The extension a media type is stored under when the client named none (the first in TYPES). */
function extensionOf(type: string): string | undefined {
  return Object.entries(TYPES).find(([, t]) => essence(t) === type)?.[0];
}

export interface CheckedMeta {
  /** What to merge into `data`: the client's fields less SERVER_FIELDS. */
  fields: Record<string, unknown>;
  /** `hash` and `size` as the client sent them, to compare with the bytes'. */
  hash?: string;
  size?: number;
}

/** Checks metadata from an upload or a PATCH body against the URL and the record rules (lib/kinds/rules.ts). */
export function checkMeta(meta: Record<string, unknown>, ids: DocumentIds): CheckedMeta {
  enforce(keyViolation(DOCUMENT.keys, { id: ids.doc, pol: ids.page, fedacct: ids.person }, meta));
  enforce(valueViolation(DOCUMENT.values, meta));
  const fields = { ...meta };
  for (const f of SERVER_FIELDS) delete fields[f];
  return { fields, hash: (meta.hash as string | undefined)?.toLowerCase(), size: meta.size as number | undefined };
}

/**
 * The `data` of an uploaded document: the checked metadata, its extension (given, else
 * the file name's, else the Content-Type's), and the hash of the bytes. A given hash or
 * size that differs, or an extension served as another type than the body's, is a 400.
 */
export function uploadData(meta: CheckedMeta, bytes: { length: number; sha512: string; contentType: string; filename?: string }): Record<string, unknown> {
  if (meta.hash !== undefined && meta.hash !== bytes.sha512) throw errors.hashMismatch();
  if (meta.size !== undefined && meta.size !== bytes.length) throw errors.badUpload(`"size" is ${meta.size} but ${bytes.length} bytes were received`);
  const data = { ...meta.fields };
  const fromName = /\.([A-Za-z0-9]{1,16})$/.exec(bytes.filename ?? '')?.[1];
  if (data.extension === undefined || data.extension === null) {
    const derived = fromName?.toLowerCase() ?? extensionOf(bytes.contentType);
    if (derived !== undefined) data.extension = derived;
  }
  if (typeof data.extension === 'string' && !extensionFits(data.extension, bytes.contentType)) {
    throw errors.badUpload(`The extension "${data.extension}" is served as ${essence(contentTypeOf(data.extension))}, but the document was sent as ${bytes.contentType}`);
  }
  data.hash = bytes.sha512;
  return data;
}
