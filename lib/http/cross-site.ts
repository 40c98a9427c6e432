// Writes a browser can send without a CORS preflight: an HTML form (urlencoded,
// multipart or text/plain), or a fetch() with a CORS-safelisted body or none. The
// browser attaches the Basic credentials it cached for this server, so another site
// could write through a signed-in user; such requests are refused on the JSON API.
// Clients that are not browsers (Python requests, curl) send neither Origin nor
// Sec-Fetch-*, and browsers' JSON requests from the portal are preflighted first.
import type { IncomingMessage } from 'node:http';

const SAFELISTED_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/** Modes that never preflight, whatever the content type. */
const UNPREFLIGHTED_MODES = new Set(['navigate', 'nested-navigate', 'no-cors']);

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim().toLowerCase() ?? '';

/**
 * Whether `req` is a write a browser could have sent without a preflight. PATCH and
 * DELETE from another origin are always preflighted, so the body test is for POST; a
 * form navigation or a no-cors fetch is refused on any method.
 */
export function isUnpreflightedBrowserWrite(req: IncomingMessage): boolean {
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
  if (UNPREFLIGHTED_MODES.has(one(req.headers['sec-fetch-mode']))) return true;
  const browser = req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined;
  if (!browser || method !== 'POST') return false;
  const type = one(req.headers['content-type']).split(';')[0]!.trim();
  return type === '' || SAFELISTED_TYPES.has(type);
}
