// The CLI's logger: what lib/ and server/ log (the embedded PostgreSQL starting, say)
// as plain `thalamus: message` lines on stderr, since stdout may carry an export.
import pino from 'pino';
import type { Logger } from '../../lib/log.js';

export function createCliLogger(verbose: boolean): Logger {
  return pino({ level: verbose ? 'info' : 'warn', base: undefined, timestamp: false }, {
    write(line: string) {
      try {
        const entry = JSON.parse(line) as { msg?: string };
        process.stderr.write(`thalamus: ${entry.msg ?? line.trim()}\n`);
      } catch {
        process.stderr.write(line);
      }
    },
  });
}
