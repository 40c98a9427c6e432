// Logging: pino JSON lines to stdout, pino-pretty when stdout is a terminal. Secrets
// never reach a log line: Authorization, cookies and password fields are redacted. The
// lines of one turn of the event loop leave in one write: a write a line, with the reader
// (journald, a pipe) woken for each, cost a worker a sixth of its CPU per request.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger };

export const REDACT = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
  'password', '*.password', 'body.password', 'hash', '*.hash',
];

export function createLogger(level: string, name = 'thalamus'): Logger {
  const pretty = process.stdout.isTTY && !process.env.THALAMUS_LOG_JSON;
  return pino({
    name,
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard', ignore: 'pid,hostname' } } } : {}),
  }, pretty ? undefined : stdoutLines());
}

let shared: DestinationStream | undefined;

/**
 * Standard output for every logger of the process: the lines written in one turn of the
 * event loop are written together at the next (setImmediate), synchronously, as pino
 * writes one line; what is gathered when the process exits is written then.
 */
function stdoutLines(): DestinationStream {
  if (shared) return shared;
  const dest = pino.destination({ dest: 1, sync: true });
  let lines = '';
  const flush = () => {
    if (!lines) return;
    const out = lines;
    lines = '';
    dest.write(out);
  };
  process.on('exit', flush);
  shared = {
    write(line: string) {
      if (!lines) setImmediate(flush);
      lines += line;
    },
  };
  return shared;
}
