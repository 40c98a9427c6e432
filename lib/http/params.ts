// URL parameters: decoded by the router, validated here. Person ids are upper-cased;
// whether they match PERSON_ID_PATTERN is decided with the principal (lib/app.ts), since
// rows made before the pattern stay readable by administrators. A new page or document
// id must match RECORD_ID_PATTERN (newRecordId); existing ones are reached as they are.
import { errors } from './errors.js';

const MAX_ID = 255;
/**
 * Control and format characters (zero-width spaces, bidirectional overrides), line and
 * paragraph separators, and the characters of paths and escapes: never part of an id.
 */
const BAD = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}/\\%]/u;
/** An id does not begin or end with white space: `ID ` would look like `ID`. */
const PADDED = /^\s|\s$/u;

/**
 * `.` and `..` are refused too: clients resolve them as dot segments (RFC 3986), so a
 * record under such an id could never be reached by its own Location.
 */
export function validId(value: string | undefined, what: string): string {
  if (!value || value.length > MAX_ID || BAD.test(value) || PADDED.test(value) || value === '.' || value === '..') throw errors.badId(what);
  return value;
}

/**
 * Person ids are compared upper-cased, ASCII letters only: full Unicode case mapping
 * would let other spellings reach an account (`eſpgnu777org` is ESPGNU777ORG).
 */
export function upperAscii(value: string): string {
  return value.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

export function personId(value: string | undefined): string {
  return upperAscii(validId(value, 'person id'));
}

/**
 * Whether `value` may name a new page or document: RECORD_ID_PATTERN, and unchanged by
 * NFKC normalization, so that no two ids a reader cannot tell apart (`café` composed and
 * decomposed, a non-breaking space, a full-width letter) are ever created side by side,
 * whatever pattern a deployment sets. Refused rather than normalized: the id a client
 * sent is the one it will ask for.
 */
export function isNewRecordId(value: string, pattern: RegExp): boolean {
  return pattern.test(value) && value.normalize('NFKC') === value;
}

/** A page or document id a POST creates (validId, then isNewRecordId). */
export function newRecordId(value: string | undefined, what: string, pattern: RegExp): string {
  const id = validId(value, what);
  if (!isNewRecordId(id, pattern)) throw errors.badRecordId(what, pattern.source);
  return id;
}
