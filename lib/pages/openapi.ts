// GET /openapi.json: the OpenAPI 3.1 document kept at the root of the repository, sent
// as the file is (read once per worker), with an ETag so clients revalidate cheaply.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from '../config.js';
import { noneMatch } from '../http/conditional.js';
import { bytes, empty, type Reply } from '../http/reply.js';

export const OPENAPI_FILE = join(ROOT, 'openapi.json');

let cached: { bytes: Buffer; etag: string } | undefined;

export function openapiDocument(ifNoneMatch: string | undefined): Reply {
  if (!cached) {
    const file = readFileSync(OPENAPI_FILE);
    cached = { bytes: file, etag: `"${createHash('sha256').update(file).digest('hex').slice(0, 32)}"` };
  }
  const headers = { 'Content-Type': 'application/json; charset=utf-8', ETag: cached.etag, 'Cache-Control': 'no-cache' };
  if (noneMatch(ifNoneMatch, cached.etag)) return empty(304, headers);
  return bytes(200, cached.bytes, headers);
}
