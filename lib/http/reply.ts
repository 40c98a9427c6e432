// What every handler returns, and the one place that writes it. A reply is JSON text
// (as PostgreSQL produced it: never parsed and serialized again), bytes, an HTML page,
// nothing, a listing streamed from the database (stream.ts), or a stream the handler
// writes itself (Server-Sent Events, an export). HEAD gets the same status and headers
// without the body.
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import { errors, HttpError } from './errors.js';
import { streamPlan, type StreamOptions } from './stream.js';
import { ownerExists, type ListingPlan } from '../db/listing/plan.js';
import { ConnectionHeldTooLong } from '../db/errors.js';
import type { Reads } from '../db/reads.js';

export type Headers = Record<string, string>;

export type Reply =
  | { kind: 'json'; status: number; text: string; headers?: Headers }
  | { kind: 'bytes'; status: number; body: Buffer; headers: Headers }
  | { kind: 'html'; status: number; text: string; headers?: Headers }
  | { kind: 'empty'; status: number; headers?: Headers }
  /**
   * A listing: `plan` read from `pool` (the primary), or with `reads` from the read
   * standby when one keeps up; its owner (plan.ifEmpty) is always checked on `pool`.
   */
  | { kind: 'rows'; pool: pg.Pool; plan: ListingPlan; options: StreamOptions; reads?: Reads }
  | { kind: 'stream'; write(res: ServerResponse): Promise<void> };

export const json = (status: number, text: string, headers?: Headers): Reply => ({ kind: 'json', status, text, headers });
export const empty = (status: number, headers?: Headers): Reply => ({ kind: 'empty', status, headers });
export const bytes = (status: number, body: Buffer, headers: Headers): Reply => ({ kind: 'bytes', status, body, headers });
export const htmlPage = (status: number, text: string, headers?: Headers): Reply => ({ kind: 'html', status, text, headers });

const JSON_TYPE = 'application/json; charset=utf-8';

function writeWhole(res: ServerResponse, status: number, type: string | undefined, body: string | Buffer | undefined, headers: Headers | undefined, head: boolean): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
  if (type) res.setHeader('Content-Type', type);
  if (body !== undefined && !res.hasHeader('Content-Length')) res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  res.end(head ? undefined : body);
}

/** Writes `reply`; for HEAD, the headers only. A stream reply answers HEAD itself. */
export async function sendReply(res: ServerResponse, reply: Reply, head: boolean): Promise<void> {
  switch (reply.kind) {
    case 'json': return writeWhole(res, reply.status, JSON_TYPE, reply.text, reply.headers, head);
    case 'html': return writeWhole(res, reply.status, 'text/html; charset=utf-8', reply.text, reply.headers, head);
    case 'bytes': return writeWhole(res, reply.status, undefined, reply.body, reply.headers, head);
    case 'empty': return writeWhole(res, reply.status, undefined, undefined, reply.headers, head);
    case 'rows': {
      const { pool, plan, options, reads } = reply;
      const owner = plan.ifEmpty;
      const ifEmpty = owner && (async () => { if (!(await ownerExists(pool, owner))) throw errors.notFound(owner.missing); });
      if (!reads) return streamPlan(res, pool, plan, { ...options, head, ifEmpty });
      // A read the standby fails before the first byte is read again from the primary, and
      // one whose standby connection goes midway goes on there from its last row.
      return reads.run((from, fallback) => streamPlan(res, from, plan, { ...options, head, ifEmpty, fallback }), (err) => mayReadAgain(err, res));
    }
    case 'stream': return reply.write(res);
  }
}

/**
 * A read the standby failed may be run again on the primary: not our own refusal (nor a
 * listing that held its connection past its bound), and nothing sent yet.
 */
export function mayReadAgain(err: unknown, res?: ServerResponse): boolean {
  return !(err instanceof HttpError) && !(err instanceof ConnectionHeldTooLong) && !res?.headersSent;
}

/** The error shape `{"error", "code"}` (and any fields the error carries); headers set earlier (CORS) stay. */
export function sendError(res: ServerResponse, err: HttpError): void {
  writeWhole(res, err.status, JSON_TYPE, err.body(), err.headers, false);
}
