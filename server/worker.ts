// One HTTP server: the worker's listener in front of lib/services.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { initServices, closeServices, type Services } from '../lib/services.js';
import { RAW_SECURITY_HEADERS } from '../lib/http/headers.js';

export interface Worker {
  server: http.Server;
  services: Services;
  /** The bound address (useful with port 0). */
  address: AddressInfo;
  /** Stops accepting, lets in-flight requests finish (at most `graceMs`), closes the pool. */
  close(graceMs?: number): Promise<void>;
}

/** Answers malformed requests and oversized headers with JSON instead of Node's plain text. */
function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || err.code === 'ECONNRESET') { socket.destroy(); return; }
  const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = JSON.stringify(tooBig
    ? { error: 'The request headers are too large', code: 'HEADERS_TOO_LARGE' }
    : { error: 'The request is not valid HTTP', code: 'BAD_REQUEST' });
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${RAW_SECURITY_HEADERS}Connection: close\r\n\r\n${body}`);
}

export async function startWorker(config: Config, databaseUrl: string, log: Logger): Promise<Worker> {
  const services = initServices({ config, databaseUrl, log });
  const server = http.createServer({ requestTimeout: 120_000, headersTimeout: 30_000 }, services.handler);
  // Longer than nginx's upstream keepalive, so the proxy closes idle connections first.
  server.keepAliveTimeout = 75_000;
  server.on('clientError', onClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => { server.off('error', reject); resolve(); });
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    services,
    address,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await closeServices(services);
    },
  };
}
