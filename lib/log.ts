// Logging: pino JSON lines to stdout, pino-pretty when stdout is a terminal. Secrets
// never reach a log line: Authorization, cookies and password fields are redacted.
import pino from 'pino';
import type { Logger } from 'pino';

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
  });
}
