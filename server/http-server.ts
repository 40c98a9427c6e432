// One HTTP(S) server: the worker's listener in front of lib/services. Used in-process by
// the tests and, one per process, by the cluster (server/cluster-worker.ts).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import type { RequestInfo } from '../lib/app.js';
import type { Resolver } from '../lib/subscriptions/destination.js';
import { initServices, closeServices, endStreams, type Services } from '../lib/services.js';
import { RAW_SECURITY_HEADERS } from '../lib/http/headers.js';
import { errors } from '../lib/http/errors.js';
import { loadTls } from './tls.js';

export interface HttpServer {
  server: http.Server;
  services: Services;
  /** The bound address (useful with port 0). */
  address: AddressInfo;
  /** Whether the server speaks TLS (TLS_CERT / TLS_KEY). */
  tls: boolean;
  /**
   * Stops accepting, lets in-flight requests finish (at most `graceMs`), closes the pool.
   * Keep-alive connections are not cut while idle: their next response says
   * `Connection: close`; those still idle after a second (a quarter of `graceMs` if less)
   * are closed then.
   */
  close(graceMs?: number): Promise<void>;
}

export interface HttpServerOptions {
  /** Called once per finished request (metrics). */
  observe?: (info: RequestInfo) => void;
  /** How subscription hosts are resolved (tests); the system's DNS by default. */
  resolve?: Resolver;
}

/** How long a draining worker leaves idle keep-alive connections for a last request. */
const IDLE_GRACE_MS = 1000;

/** Answers malformed requests and oversized headers with JSON instead of Node's plain text. */
function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') { socket.destroy(); return; }
  const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = (tooBig ? errors.headersTooLarge() : errors.badHttp()).body();
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${RAW_SECURITY_HEADERS}Connection: close\r\n\r\n${body}`);
}

export async function startHttpServer(config: Config, databaseUrl: string, log: Logger, opts: HttpServerOptions = {}): Promise<HttpServer> {
  const tls = loadTls(config);
  const services = initServices({ config, databaseUrl, log, observe: opts.observe, resolve: opts.resolve });
  let draining = false;
  // Responses in flight when the drain starts close their connection too, when their
  // headers are not out yet: else a slow upload's keep-alive connection would hold the
  // worker until the hard deadline.
  const inFlight = new Set<http.ServerResponse>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (draining) res.setHeader('Connection', 'close');
    else {
      inFlight.add(res);
      res.once('close', () => inFlight.delete(res));
    }
    services.handler(req, res);
  };
  const options = { requestTimeout: 120_000, headersTimeout: 30_000 };
  const server: http.Server = tls
    ? https.createServer({ ...options, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler)
    : http.createServer(options, handler);
  // Longer than nginx's upstream keepalive, so the proxy closes idle connections first.
  server.keepAliveTimeout = 75_000;
  server.on('clientError', onClientError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => { server.off('error', reject); resolve(); });
    });
  } catch (err) {
    await closeServices(services).catch(() => undefined);
    throw err;
  }
  const address = server.address() as AddressInfo;
  return {
    server,
    services,
    address,
    tls: Boolean(tls),
    async close(graceMs = 10_000) {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      // Change streams never end by themselves: end them first (clients reconnect elsewhere).
      const streams = endStreams(services);
      // net's close, not http's: http's would also cut idle keep-alive connections at
      // once, failing a request a client is sending on one at that moment. After the
      // grace, idle ones are closed, again as long as some remain (a listing whose headers
      // were out before the drain leaves its connection idle when it ends).
      const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
      const idle = setInterval(() => server.closeIdleConnections(), Math.min(IDLE_GRACE_MS, graceMs / 4));
      const hard = setTimeout(() => server.closeAllConnections(), graceMs);
      await streams;
      await closed;
      clearInterval(idle);
      clearTimeout(hard);
      server.close(() => undefined); // stops http's connection-checking timer
      await closeServices(services);
    },
  };
}
