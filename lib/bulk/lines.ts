// Splitting an NDJSON stream into numbered lines with bounded memory: a line longer
// than the limit is not kept (it is skipped up to its newline and reported), so a file
// without newlines cannot exhaust memory. A final line without a newline counts.
import { isUtf8 } from 'node:buffer';

/** The largest line kept: a 10 MiB document is about 14 MiB of base64. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export type Line =
  | { n: number; text: string; bytes: number }
  | { n: number; problem: string; bytes: number };

/** Yields every non-empty line of `input` with its number (from 1); a trailing `\r` is dropped. */
export async function* readLines(input: AsyncIterable<Buffer | string>, maxBytes = MAX_LINE_BYTES): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let n = 0;
  const finish = (): Line | undefined => {
    n++;
    const bytes = size;
    if (tooLong) {
      parts = []; size = 0; tooLong = false;
      return { n, problem: `the line is longer than ${maxBytes} bytes`, bytes };
    }
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = []; size = 0;
    if (buf.length && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    if (buf.length === 0) return undefined;
    if (!isUtf8(buf)) return { n, problem: 'the line is not UTF-8', bytes };
    return { n, text: buf.toString('utf8'), bytes };
  };
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      const end = nl === -1 ? buf.length : nl;
      if (!tooLong) {
        if (size + end - start > maxBytes) { tooLong = true; parts = []; } else if (end > start) parts.push(buf.subarray(start, end));
      }
      size += end - start;
      if (nl === -1) break;
      const line = finish();
      if (line) yield line;
      start = nl + 1;
    }
  }
  if (size > 0 || tooLong) {
    const line = finish();
    if (line) yield line;
  }
}
