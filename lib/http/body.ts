// Reading request bodies: bounded, parsed as JSON whatever the Content-Type, and
// refused with 413 in a way the client can still read (lingering close).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { errors } from './errors.js';

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

/** Reads the whole body, at most `limit` bytes; a larger one throws 413 and closes the connection politely. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const refuse = () => {
      lingerOnClose(req.socket);
      const err = errors.tooLarge(limit);
      err.headers.Connection = 'close';
      reject(err);
    };
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

/** Depth of a parsed JSON value, counted without recursion. */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return true;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return false;
}

/** Reads and parses a JSON object body; anything else is a 400 and changes nothing. */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw errors.badJson(err instanceof RangeError ? 'nested too deeply' : (err as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw errors.notObject();
  if (depthExceeds(value, MAX_DEPTH)) throw errors.tooDeep(MAX_DEPTH);
  return value as Record<string, unknown>;
}
