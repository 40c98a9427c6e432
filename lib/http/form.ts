// HTML form bodies (application/x-www-form-urlencoded), for the pages only; the API
// keeps parsing every body as JSON. Bounded like any body.
import type { IncomingMessage } from 'node:http';
import { readBody } from './body.js';
import { errors } from './errors.js';

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** Reads a urlencoded form into its fields (the last of repeated names wins); other types are 415. */
export async function readForm(req: IncomingMessage, limit: number): Promise<Record<string, string>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== FORM_TYPE) throw errors.unsupportedType(FORM_TYPE);
  const raw = await readBody(req, limit);
  return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
}
