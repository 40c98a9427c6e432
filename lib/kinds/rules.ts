// The rules a record's document must pass, one set for the API (lib/resources) and
// the import (lib/bulk/validate.ts). A rule answers with a Violation, not an error:
// each side words it in its own vocabulary (the API as 400 ID_MISMATCH or
// INVALID_VALUE, the import as the reason a line is skipped), so the two keep the
// messages clients and operators already read, from one definition.
import { upperAscii } from '../http/params.js';

/** Why a document is refused: a field naming the record that differs, or a value of the wrong form. */
export type Violation =
  | { field: string; mismatch: true }
  | { field: string; mismatch?: false; message: string };

/** A rule on one field, checked when the field is present (a JSON body has no undefined). */
export interface ValueRule {
  field: string;
  valid(value: unknown): boolean;
  message: string;
}

/**
 * The fields of a document that name its record (`id`, a page's `book`, a document's
 * `pol`), with the values the record has. Person ids (`upper`) are compared upper-cased,
 * as URLs name them.
 */
export interface KeyRule { field: string; upper: boolean }

/** The first key of `keys` present in `doc` that differs from `values`' one. */
export function keyViolation(keys: readonly KeyRule[], values: Readonly<Record<string, string>>, doc: Readonly<Record<string, unknown>>): Violation | undefined {
  for (const { field, upper } of keys) {
    const given = doc[field];
    if (given === undefined) continue;
    const spelled = upper && typeof given === 'string' ? upperAscii(given) : given;
    if (spelled !== values[field]) return { field, mismatch: true };
  }
  return undefined;
}

/** The first rule of `rules` that a present field of `doc` breaks. */
export function valueViolation(rules: readonly ValueRule[], doc: Readonly<Record<string, unknown>>): Violation | undefined {
  for (const rule of rules) {
    const v = doc[rule.field];
    if (v !== undefined && !rule.valid(v)) return { field: rule.field, message: rule.message };
  }
  return undefined;
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** A person's `roles` and `active` (DESIGN §3); the password is each side's own (hashed by the API, a pre-made hash in an import). */
export const PERSON_VALUES: readonly ValueRule[] = [
  { field: 'roles', valid: (v) => Array.isArray(v) && v.every(isString), message: '"roles" must be a list of role names' },
  { field: 'active', valid: (v) => typeof v === 'boolean', message: '"active" must be true or false' },
];

const EXTENSION = /^\.?[A-Za-z0-9]{1,16}$/;
const SHA512_HEX = /^[0-9a-fA-F]{128}$/;
const text = (field: string): ValueRule => ({ field, valid: (v) => v === null || isString(v), message: `"${field}" must be a string` });

/** A personal document's metadata, as upstream stores it (lib/resources/document-meta.ts). */
export const DOCUMENT_VALUES: readonly ValueRule[] = [
  text('document_type'), text('extension'), text('context'), text('description'),
  { field: 'extension', valid: (v) => !isString(v) || EXTENSION.test(v), message: '"extension" must be 1 to 16 letters or digits, such as pdf or jpg' },
  { field: 'hash', valid: (v) => isString(v) && SHA512_HEX.test(v), message: '"hash" must be the sha512 of the bytes in hex (128 characters)' },
  { field: 'size', valid: (v) => Number.isSafeInteger(v), message: '"size" must be a whole number' },
];
