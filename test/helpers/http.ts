// The test client: undici requests with Basic credentials. Every body any test
// receives is checked here for password hashes, so the whole suite enforces that no
// response ever carries one; and every response is validated against openapi.json
// (helpers/openapi.ts), so the document describes what the server really answers.
import type { Readable } from 'node:stream';
import { request, Agent } from 'undici';
import * as assert from 'uvu/assert';
import { validateResponse } from './openapi.js';

export const ANA = { user: 'ESPGNU777ORG', password: 'gnusolidario' };
export const CAMERON = { user: 'ITAPYT999HON', password: 'gnusolidario' };
export const ROOT = { user: 'ARGBUE111FAV', password: 'freedom' };

export interface Account { user: string; password: string }

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  bytes: Buffer;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** A listing in upstream's row shape (`[[{...}], ...]`, the default) as its objects; undefined for anything else. */
  listed: any[] | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The objects of a listing in upstream's row shape, or undefined when `json` is not one. */
export function listedOf(json: unknown): any[] | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!Array.isArray(json) || !json.every((row) => Array.isArray(row) && row.length === 1)) return undefined;
  return json.map((row) => row[0]);
}

export const HASH_PATTERN = /\$2[aby]\$\d\d\$|\$argon2(id|i|d)\$/;

/** Counts the bodies checked, so a suite can show the check ran. */
export const checked = { bodies: 0 };

export const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64, bodyTimeout: Number(process.env.TEST_BODY_TIMEOUT ?? 300_000) });

export function basic(account: Account): string {
  return `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
}

export interface CallOptions {
  as?: Account;
  body?: unknown;
  /** A raw body, sent as is; a stream is sent chunked (no Content-Length). */
  raw?: string | Buffer | Readable;
  headers?: Record<string, string>;
  /** false: the answer is not Thalamus's (a server a test made), so openapi.json does not describe it. */
  openapi?: false;
}

export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.as) headers.authorization = basic(opts.as);
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const res = await request(base + path, { method: method as 'GET', headers, body, dispatcher: agent });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const text = bytes.toString('utf8');
  checked.bodies++;
  assert.not.match(text, HASH_PATTERN, `${method} ${path} returned a password hash`);
  // The path as sent: the URL parser resolves dot segments (`/people/..` is `/`).
  const sent = new URL(base + path);
  if (opts.openapi !== false) validateResponse({ method, path: sent.pathname + sent.search, status: res.statusCode, headers: res.headers, text });
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.statusCode, headers: res.headers, text, bytes, json, listed: listedOf(json) };
}
