// The bytes of an upload, collected as they arrive: copied into one Buffer (sized from
// Content-Length when the client gave one, so it is allocated once) and hashed on the
// way, so the document is held once and never re-read to hash it.
import { createHash, type Hash } from 'node:crypto';

/** First size of the buffer when the length is not known (a chunked body); it doubles. */
const FIRST_SIZE = 64 * 1024;

export interface CollectedBytes {
  bytes: Buffer;
  /** sha512 of the bytes, lower-case hex (as upstream's import script stores `hash`). */
  sha512: string;
}

export class BoundedBytes {
  private buffer: Buffer;
  private size = 0;
  private readonly hash: Hash = createHash('sha512');

  /** `expected`: the length announced (Content-Length), when known; more is still accepted up to `limit`. */
  constructor(private readonly limit: number, expected?: number) {
    const first = expected !== undefined && Number.isSafeInteger(expected) && expected >= 0 ? expected : FIRST_SIZE;
    this.buffer = Buffer.allocUnsafe(Math.min(first, limit));
  }

  /** Appends a chunk; false (and nothing kept) when it would pass the limit. */
  push(chunk: Buffer): boolean {
    const end = this.size + chunk.length;
    if (end > this.limit) return false;
    if (end > this.buffer.length) {
      const next = Buffer.allocUnsafe(Math.min(this.limit, Math.max(end, this.buffer.length * 2)));
      this.buffer.copy(next, 0, 0, this.size);
      this.buffer = next;
    }
    chunk.copy(this.buffer, this.size);
    this.size = end;
    this.hash.update(chunk);
    return true;
  }

  get length(): number {
    return this.size;
  }

  /** The bytes (a view of the one buffer, no copy) and their hash; call once. */
  done(): CollectedBytes {
    return { bytes: this.buffer.subarray(0, this.size), sha512: this.hash.digest('hex') };
  }
}
