// URL parameters: decoded by the router, validated here. Person ids are upper-cased.
import { errors } from './errors.js';

const MAX_ID = 255;
// eslint-disable-next-line no-control-regex
const BAD = /[\u0000-\u001f\u007f/\\%]/;

/**
 * `.` and `..` are refused too: clients resolve them as dot segments (RFC 3986), so a
 * record under such an id could never be reached by its own Location.
 */
export function validId(value: string | undefined, what: string): string {
  if (!value || value.length > MAX_ID || BAD.test(value) || value === '.' || value === '..') throw errors.badId(what);
  return value;
}

export function personId(value: string | undefined): string {
  return validId(value, 'person id').toUpperCase();
}
