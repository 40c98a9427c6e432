// The bytes of an upload, collected as they arrive into segments of at most 1 MiB
// (the first sized from Content-Length when the client gave one), hashed on the way:
// memory grows with what was received, never by doubling and copying a buffer, and the
// segments go to PostgreSQL as they are (lib/db/parts.ts), so the document is held
// once and never re-read to hash it.
import { createHash, type Hash } from 'node:crypto';
import { ByteParts } from '../db/parts.js';

/** Largest segment. */
export const SEGMENT = 1024 * 1024;

export interface CollectedBytes {
  bytes: ByteParts;
  /** sha512 of the bytes, lower-case hex (as upstream's import script stores `hash`). */
  sha512: string;
}

export class BoundedBytes {
  private readonly full: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;
  private size = 0;
  private readonly hash: Hash = createHash('sha512');

  /** `expected`: the length announced (Content-Length), when known; more is still accepted up to `limit`. */
  constructor(private readonly limit: number, private readonly expected?: number) {}

  /** Appends a chunk; false (and nothing kept) when it would pass the limit. */
  push(chunk: Buffer): boolean {
    const end = this.size + chunk.length;
    if (end > this.limit) return false;
    this.hash.update(chunk);
    let at = 0;
    while (at < chunk.length) {
      if (!this.current || this.used === this.current.length) this.nextSegment();
      const n = chunk.copy(this.current!, this.used, at);
      this.used += n;
      at += n;
    }
    this.size = end;
    return true;
  }

  private nextSegment(): void {
    if (this.current) this.full.push(this.current);
    const announced = this.expected !== undefined && Number.isSafeInteger(this.expected) && this.expected > this.size ? this.expected - this.size : SEGMENT;
    this.current = Buffer.allocUnsafe(Math.max(1, Math.min(SEGMENT, announced, this.limit - this.size)));
    this.used = 0;
  }

  get length(): number {
    return this.size;
  }

  /** The bytes (the segments, no copy) and their hash; call once. */
  done(): CollectedBytes {
    const parts = this.current ? [...this.full, this.current.subarray(0, this.used)] : [];
    return { bytes: new ByteParts(parts), sha512: this.hash.digest('hex') };
  }
}
