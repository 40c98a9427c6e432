// A Server-Sent Events client for the change-feed tests, on node:http so a test can
// stop reading (a slow client) or cut the connection (a reconnect). Parses events as
// they arrive; every event's data is checked for password hashes, as call() does, and
// against openapi.json: the response when it begins (or whole, when it is no stream),
// then each event.
import http from 'node:http';
import * as assert from 'uvu/assert';
import { basic, HASH_PATTERN, type Account } from './http.js';
import { validateResponse, validateStreamEvent } from './openapi.js';

export interface SseEvent { id?: string; event?: string; data: string }

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every event received so far (comments excluded). */
  events: SseEvent[];
  /** Heartbeat comments received. */
  comments: number;
  /** The id of the last event or heartbeat that carried one. */
  lastId(): string | undefined;
  /** Resolves once `check` holds for the events received (fails after `ms`). */
  until(what: string, check: (events: SseEvent[]) => boolean, ms?: number): Promise<void>;
  /** Stops reading from the socket (its buffers fill up), or reads again. */
  pause(): void;
  resume(): void;
  /** Cuts the connection. */
  close(): void;
  /** Resolves when the server ended the stream or the connection closed. */
  ended: Promise<void>;
  /** The body text, for a response that was not a stream. */
  body(): string;
}

export interface SseOptions {
  as?: Account;
  lastEventId?: string;
  headers?: Record<string, string>;
  /** false: the response is validated when it begins, its events not (a test timing a thousand clients). */
  openapi?: false;
}

export function openSse(base: string, path: string, opts: SseOptions = {}): Promise<SseClient> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...opts.headers };
  if (opts.as) headers.authorization = basic(opts.as);
  if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { headers, agent: false }, (res) => {
      const events: SseEvent[] = [];
      let comments = 0;
      let last: string | undefined;
      let buffer = '';
      let text = '';
      let current: SseEvent = { data: '' };
      let hasData = false;
      const waiters = new Set<() => void>();
      const ended = new Promise<void>((done) => { res.once('close', done); res.once('end', done); });
      const stream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      const checked = { method: 'GET', path, status: res.statusCode ?? 0, headers: res.headers };
      if (stream) validateResponse({ ...checked, text: '' });
      else res.once('end', () => validateResponse({ ...checked, text }));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk.length < 1e6 && text.length < 1e6 ? chunk : '';
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (current.id !== undefined) last = current.id;
            if (hasData) {
              assert.not.match(current.data, HASH_PATTERN, 'an event carried a password hash');
              if (stream && opts.openapi !== false) validateStreamEvent(path, current.data);
              events.push(current);
            }
            current = { data: '' };
            hasData = false;
            continue;
          }
          if (line.startsWith(':')) { comments++; continue; }
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') { current.data = hasData ? `${current.data}\n${value}` : value; hasData = true; }
          else if (field === 'id') current.id = value;
          else if (field === 'event') current.event = value;
        }
        for (const w of [...waiters]) w();
      });
      res.on('error', () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        get comments() { return comments; },
        lastId: () => last,
        until(what, check, ms = 10_000) {
          if (check(events)) return Promise.resolve();
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => { waiters.delete(w); fail(new Error(`timed out waiting for ${what} (${events.length} events)`)); }, ms);
            const w = () => { if (check(events)) { clearTimeout(timer); waiters.delete(w); ok(); } };
            waiters.add(w);
            void ended.then(() => { if (waiters.has(w)) { clearTimeout(timer); waiters.delete(w); check(events) ? ok() : fail(new Error(`stream ended while waiting for ${what}`)); } });
          });
        },
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => { req.destroy(); res.destroy(); },
        ended,
        body: () => text,
      } as SseClient);
    });
    req.on('error', reject);
  });
}

/** The parsed change events (data of events without an `event:` name). */
export function changesOf(events: SseEvent[]): Array<{ seq: number; kind: string; id: string; person: string | null; op: string; doc?: unknown }> {
  return events.filter((e) => e.event === undefined).map((e) => JSON.parse(e.data));
}
