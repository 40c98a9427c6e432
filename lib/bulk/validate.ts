// The checks an imported line must pass: the API's rules for what it stores (a JSON
// object, ids as in URLs, and the record rules of lib/kinds/rules.ts: `id`/`book`
// agreeing with the record's, a person's roles and active flag typed), a password only
// as a pre-made hash within the configured bounds, no number beyond what can be read
// back, plus the shape of the NDJSON record (a line's fields are its table's columns).
// Parsing here is for checking only: the line's text goes to PostgreSQL, whose jsonb
// keeps its numbers exactly.
import { MAX_DEPTH, hasUnreadableNumber, shapeProblem } from '../http/body.js';
import { isNewRecordId, upperAscii, validId } from '../http/params.js';
import { isPasswordHash, premadeHashProblem } from '../auth/passwords.js';
import { BY_BULK, columnsOf, ownerColumn } from '../kinds/registry.js';
import { keyViolation, valueViolation, type Violation } from '../kinds/rules.js';
import type { HashBounds } from '../auth/password-settings.js';
import { KIND_ORDER, type BulkKind } from './kinds.js';

/** A line that passed: its kind, the ids it is stored under, and its text. */
export interface CheckedRecord {
  kind: BulkKind;
  id: string;
  /** page: the person whose book it is; document: the person (fedacct). */
  owner?: string;
  /** document: its page (pol). */
  within?: string;
  /** `data` lacks the record's `id` (or a page's `book`), or has them spelled otherwise: the stored document gets them set. */
  merge: boolean;
  /** Its line number, set by the import. */
  n: number;
  text: string;
}

export interface Rules {
  personIdPattern: RegExp;
  recordIdPattern: RegExp;
  /** What a hash may cost to be imported (BCRYPT_COST_*, ARGON2_MAX_*), as on the API. */
  hashBounds: HashBounds;
}

/** A line's fields: `kind` and its table's columns. */
const FIELDS = Object.fromEntries(KIND_ORDER.map((k) => [k, ['kind', ...columnsOf(BY_BULK[k])]])) as Record<BulkKind, string[]>;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

class LineProblem extends Error {}
const problem = (why: string) => new LineProblem(why);

function id(value: unknown, what: string): string {
  if (typeof value !== 'string') throw problem(`"${what}" must be a string`);
  try {
    return validId(value, what);
  } catch {
    throw problem(`"${what}" is not a valid id: ${JSON.stringify(value)}`);
  }
}

/** A person id as the API takes one from a URL: the pattern, then upper-cased. */
function personId(value: unknown, what: string, rules: Rules): string {
  const v = id(value, what);
  if (!rules.personIdPattern.test(v)) throw problem(`"${what}" ${JSON.stringify(v)} does not match PERSON_ID_PATTERN ${rules.personIdPattern.source}`);
  return upperAscii(v);
}

/** A page or document id as the API takes one for a new record: RECORD_ID_PATTERN, NFKC. */
function recordId(value: unknown, what: string, rules: Rules): string {
  const v = id(value, what);
  if (!isNewRecordId(v, rules.recordIdPattern)) throw problem(`"${what}" ${JSON.stringify(v)} does not match RECORD_ID_PATTERN ${rules.recordIdPattern.source} or changes under Unicode NFKC normalization`);
  return v;
}

/** `\u0000` and lone surrogates: JSON allows them, jsonb refuses them (and would fail a whole batch). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function unstorableString(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\0') || LONE_SURROGATE.test(v)) return true;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as object)) {
        if (k.includes('\0') || LONE_SURROGATE.test(k)) return true;
        stack.push(child);
      }
    }
  }
  return false;
}

/** How many `{` and `[` the text holds: a bound on how deep it nests. */
function openers(text: string): number {
  let n = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) n++;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) n++;
  return n;
}

/** A record rule broken, as an import reports it: a key is named by where it sits in the line. */
function refuse(v: Violation | undefined): void {
  if (!v) return;
  if (v.mismatch) throw problem(`"data.${v.field}" differs from the record's "${v.field}"`);
  throw problem(v.message);
}

/** The import's own rule on passwords: the API hashes one sent in clear; a file brings hashes only. */
function checkPassword(data: Record<string, unknown>, bounds: HashBounds): void {
  const password = data.password;
  if (password === undefined || password === null) return;
  if (typeof password !== 'string') throw problem('"password" must be a string');
  if (!isPasswordHash(password)) throw problem('"password" is not a bcrypt or argon2 hash: an import keeps hashes only (set a password with `thalamus user passwd`)');
  const why = premadeHashProblem(password, bounds);
  if (why) throw problem(`the password hash is outside the accepted bounds: ${why}`);
}

function check(text: string, rules: Rules): CheckedRecord {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (err) {
    throw problem(`not valid JSON: ${err instanceof RangeError ? 'nested too deeply' : (err as Error).message}`);
  }
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw problem('a record must be a JSON object');
  const r = rec as Record<string, unknown>;
  const kind = r.kind as BulkKind;
  if (typeof r.kind !== 'string' || !KIND_ORDER.includes(kind)) throw problem(`"kind" must be one of ${KIND_ORDER.join(', ')}`);
  const extra = Object.keys(r).find((k) => !FIELDS[kind].includes(k));
  if (extra !== undefined) throw problem(`a ${kind} record has no field ${JSON.stringify(extra)}`);
  const data = r.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw problem('"data" must be a JSON object');
  // The walk is needed only when the text could nest that deep or hold a number too long for a double.
  const shape = openers(text) > MAX_DEPTH || /\d{309}/.test(text) ? shapeProblem(data, MAX_DEPTH) : undefined;
  if (shape === 'deep') throw problem(`"data" nests deeper than ${MAX_DEPTH} levels`);
  if (shape === 'number' || hasUnreadableNumber(text)) {
    throw problem('a number beyond what can be stored and read back exactly (an exponent beyond ±308, or a non-zero magnitude below 2.2250738585072014e-308)');
  }
  // Only escapes can make such strings: a line without `\u` is spared the walk.
  if (text.includes('\\u') && unstorableString(rec)) throw problem('a string PostgreSQL cannot store (\\u0000, or half of a surrogate pair)');
  const d = data as Record<string, unknown>;
  const row = BY_BULK[kind];
  const ownId = row.id === 'person' ? personId(r.id, 'id', rules) : row.id === 'record' ? recordId(r.id, 'id', rules) : id(r.id, 'id');
  const out: CheckedRecord = { kind, id: ownId, text, merge: false, n: 0 };
  // As the API compares a body's fields with the URL's: person ids upper-cased. Each key
  // is checked once the record's value is known, in the order the line names them.
  const values: Record<string, string> = { id: ownId };
  const owner = ownerColumn(row);
  refuse(keyViolation(row.keys.slice(0, 1), values, d));
  if (owner) values[owner] = out.owner = personId(r[owner], owner, rules);
  if (row.within) values[row.within.column] = out.within = id(r[row.within.column], row.within.column);
  if (row.importChecksData) {
    refuse(keyViolation(row.keys.slice(1), values, d));
    refuse(valueViolation(row.values, d));
  }
  // The stored document gets the record's own fields set when they are missing or spelled otherwise.
  out.merge = row.stamped.some((c) => d[c] !== values[c]);
  if (kind === 'person') checkPassword(d, rules.hashBounds);
  if (row.bytes) {
    const bytes = r[row.bytes];
    if (bytes !== null && bytes !== undefined && (typeof bytes !== 'string' || bytes.length % 4 !== 0 || !BASE64.test(bytes))) throw problem(`"${row.bytes}" must be base64 text or null`);
  }
  return out;
}

/** The checked record of one line, or why it cannot be imported. */
export function checkLine(text: string, rules: Rules): CheckedRecord | { problem: string } {
  try {
    return check(text, rules);
  } catch (err) {
    if (err instanceof LineProblem) return { problem: err.message };
    throw err;
  }
}
