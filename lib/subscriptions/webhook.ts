// One POST of a batch to a subscription's URL: signed, bounded in time, redirects not
// followed, the answer's body discarded. Any 2xx acknowledges the batch; anything else
// is a failure. Every connection resolves its host through the subscription rules
// (destination.ts) as its own DNS lookup, so it reaches only addresses that were checked
// the moment it connects. The subscriber is told a coarse class of failure (`HTTP 4xx`,
// CONNECTION_FAILED, TIMEOUT, DESTINATION_NOT_ALLOWED), never the socket's error, so a
// subscription cannot map which ports answer what; the log has the cause.
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { sign, SIGNATURE_HEADER } from './signature.js';
import { DestinationRefused, type Destinations } from './destination.js';

export type PostOutcome =
  | { ok: true; status: number }
  /** `error`: what the subscriber sees (last_error); `detail`: what the operator's log says. */
  | { ok: false; error: string; detail: string; status?: number };

export interface Poster {
  post(url: string, secret: string, id: number, body: string, timeoutMs: number, stop: AbortSignal): Promise<PostOutcome>;
  /** Closes the kept-alive connections. */
  close(): void;
}

/** Bytes of an answer's body read (and dropped) before the connection is cut instead. */
const DRAIN_MAX = 64 * 1024;

const REFUSED = "DESTINATION_NOT_ALLOWED: the receiver's address is one subscriptions may not reach";
const UNREACHABLE = 'CONNECTION_FAILED: the receiver could not be reached (connection or TLS failed)';

export function createPoster(destinations: Destinations): Poster {
  const lookup: LookupFunction = (hostname, options, callback) => {
    destinations.addressesOf(hostname).then((found) => {
      const usable = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
      if (!usable.length) { callback(Object.assign(new Error(`${hostname}: no address of family ${options.family}`), { code: 'ENOTFOUND' }), ''); return; }
      if (options.all) callback(null, usable);
      else callback(null, usable[0]!.address, usable[0]!.family);
    }, (err: NodeJS.ErrnoException) => callback(err, ''));
  };
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  function failure(err: NodeJS.ErrnoException, timeoutMs: number, stop: AbortSignal): PostOutcome {
    const detail = err.code ?? err.message;
    if (stop.aborted) return { ok: false, error: 'aborted (worker stopping)', detail };
    if (err instanceof DestinationRefused) return { ok: false, error: REFUSED, detail: err.message };
    if (err.name === 'AbortError') return { ok: false, error: `TIMEOUT: no answer within ${timeoutMs} ms`, detail: 'timeout' };
    return { ok: false, error: UNREACHABLE, detail };
  }

  async function post(url: string, secret: string, id: number, body: string, timeoutMs: number, stop: AbortSignal): Promise<PostOutcome> {
    const target = new URL(url);
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    // A socket connects to an address without a lookup: check it here.
    if (isIP(host)) {
      try {
        await destinations.addressesOf(host);
      } catch (err) {
        return failure(err as NodeJS.ErrnoException, timeoutMs, stop);
      }
    }
    const secure = target.protocol === 'https:';
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]);
    return new Promise<PostOutcome>((resolve) => {
      const req = (secure ? https : http).request(target, {
        method: 'POST', agent: secure ? agents.https : agents.http, lookup, signal,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': 'Thalamus (GNU Health Federation)',
          'X-Thalamus-Subscription': String(id),
          [SIGNATURE_HEADER]: sign(secret, body),
        },
      }, (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => { read += chunk.length; if (read > DRAIN_MAX) res.destroy(); });
        res.on('error', () => undefined);
        resolve(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${Math.floor(status / 100)}xx`, detail: `HTTP ${status}` });
      });
      req.on('error', (err) => resolve(failure(err, timeoutMs, stop)));
      req.end(body);
    });
  }

  return {
    post,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
