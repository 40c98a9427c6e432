// Writing responses: JSON bodies and the error shape `{"error", "code"}`.
import type { ServerResponse } from 'node:http';
import { HttpError } from './errors.js';

/** Sends `body` (already JSON text, or a value to serialize) with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** Answers with a catalogued error; headers already set by earlier steps (CORS) stay. */
export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: err.message, code: err.code, ...err.fields }, err.headers);
}
