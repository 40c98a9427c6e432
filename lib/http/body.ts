// Reading request bodies: bounded, parsed as JSON whatever the Content-Type, and
// refused with 413 in a way the client can still read (lingering close). The text is
// kept as sent: PostgreSQL's jsonb stores its numbers exactly, which JavaScript's
// doubles would not (a 30-digit integer, say); numbers that no client could read back
// (an exponent beyond a double's range, a non-zero number a double reads as 0 or as a
// subnormal) are refused instead.
import type { IncomingMessage } from 'node:http';
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { errors, type HttpError } from './errors.js';

/** How deep a JSON body may nest; deeper bodies are refused before anything is stored. */
export const MAX_DEPTH = 64;
/** How long and how much a refused upload is still read so the client sees the 413. */
const LINGER_MS = 5000;
const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * After a 413 the socket must not be reset while the client is still sending, or its
 * kernel may drop our answer. Node destroys a `Connection: close` socket once the
 * response is flushed; replace that with: send FIN, keep discarding input, close at the
 * client's end of stream or after a bound.
 */
function lingerOnClose(socket: Socket): void {
  let seen = 0;
  socket.destroySoon = function lingeringClose(this: Socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > LINGER_BYTES) this.destroy();
    });
    this.once('end', () => this.destroy());
    this.once('close', () => clearTimeout(timer));
    this.resume();
  };
}

/** The 413 for a body over `limit`, answered so the client reads it: the connection closes only once it is flushed. */
export function refuseTooLarge(req: IncomingMessage, limit: number): HttpError {
  return refuseUnread(req, errors.tooLarge(limit));
}

/** `err` for a request whose body is not read: the connection closes once the answer is flushed and read. */
export function refuseUnread(req: IncomingMessage, err: HttpError): HttpError {
  lingerOnClose(req.socket);
  err.headers.Connection = 'close';
  return err;
}

/** Reads the whole body, at most `limit` bytes; a larger one throws 413 and closes the connection politely. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const refuse = () => reject(refuseTooLarge(req, limit));
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return refuse();
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.off('data', onData);
        req.resume();
        return refuse();
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks, size)); } });
    req.once('error', (err) => { if (!done) { done = true; reject(err); } });
  });
}

/** Walks a parsed JSON value without recursion: too deep, or holding a number beyond a double. */
export function shapeProblem(value: unknown, max: number): 'deep' | 'number' | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return 'number';
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return 'deep';
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return undefined;
}

/** Largest decimal exponent written in a number that is still kept (as a double can hold). */
const MAX_EXPONENT = 308;

/** The smallest positive normal double: between it and zero a double keeps fewer digits, or none. */
const MIN_NORMAL = 2.2250738585072014e-308;
/** A JSON number, where one begins (outside strings). */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Whether a client reading this JSON number as a double would not get it back. */
function unreadable(token: string): boolean {
  const [mantissa = '', exponent] = token.split(/[eE]/);
  if (exponent !== undefined && Number(exponent.replace(/^[+-]/, '')) > MAX_EXPONENT) return true;
  const value = Math.abs(Number(token));
  return value === 0 ? /[1-9]/.test(mantissa) : value < MIN_NORMAL;
}

/**
 * Whether valid JSON text holds a number a double cannot read back, though jsonb would
 * keep every digit: an exponent beyond MAX_EXPONENT (1e400 reads as Infinity, 1e-400 as
 * 0), or a non-zero magnitude below MIN_NORMAL (`0.` then 400 zeros then `1` reads as 0,
 * 1e-310 with fewer digits than written). Either is written with a three-digit exponent
 * or with over 200 zeros (an exponent of two digits moves a number by 99 places at
 * most): texts with neither, nearly all, are spared the scan.
 */
export function hasUnreadableNumber(text: string): boolean {
  if (!/\d[eE][+-]?\d{3}|0{200}/.test(text)) return false;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? text[i]!;
      if (unreadable(token)) return true;
      i += token.length - 1;
    }
  }
  return false;
}

export interface JsonBody {
  /** The parsed object, for the checks a route makes. */
  value: Record<string, unknown>;
  /** The text as sent, to store. */
  text: string;
}

/** Reads and parses a JSON object body; anything else is a 400 and changes nothing. */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<JsonBody> {
  const raw = await readBody(req, limit);
  if (!isUtf8(raw)) throw errors.badJson('the body is not UTF-8');
  const text = raw.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw errors.badJson(err instanceof RangeError ? 'nested too deeply' : (err as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw errors.notObject();
  const problem = shapeProblem(value, MAX_DEPTH);
  if (problem === 'deep') throw errors.tooDeep(MAX_DEPTH);
  if (problem === 'number' || hasUnreadableNumber(text)) throw errors.numberOutOfRange();
  return { value: value as Record<string, unknown>, text };
}
