// The admin listener (ADMIN_LISTEN, loopback by default), run by the primary:
// /healthz (the process answers), /readyz (the database answers within 1 s), /metrics
// (Prometheus text for the whole cluster).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors, type HttpError } from '../lib/http/errors.js';

export interface AdminSources {
  /** Resolves when the cluster can serve requests, with warnings for the operator; rejects with the reason otherwise. */
  ready(): Promise<string[]>;
  metrics(): Promise<string>;
}

/**
 * Every admin connection is a file descriptor of the primary, which also accepts every
 * API connection for the workers: a local process holding idle ones could exhaust its
 * descriptors and so fail the API. A connection idle this long (silent, or kept alive
 * after an answer) is closed, and a request's headers must arrive within it.
 */
export const ADMIN_IDLE_MS = 5000;
/** Connections beyond this are dropped as they come; health checks and a scraper need a few. */
export const ADMIN_MAX_CONNECTIONS = 32;

export interface Admin { address: AddressInfo; close(): Promise<void> }

function refuse(res: http.ServerResponse, err: HttpError): void {
  res.writeHead(err.status, { ...err.headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(err.body());
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

export async function startAdmin(listen: { host: string; port: number }, sources: AdminSources): Promise<Admin> {
  // The header and request deadlines are checked every second (Node's default: 30 s).
  const server = http.createServer({ headersTimeout: ADMIN_IDLE_MS, requestTimeout: 2 * ADMIN_IDLE_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, errors.methodNotAllowed('GET, HEAD'));
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      sources.ready().then(
        (warnings) => json(res, 200, warnings.length ? { status: 'ready', warnings } : { status: 'ready' }),
        (err: Error) => json(res, 503, { status: 'unavailable', reason: err.message }),
      );
      return;
    }
    if (path === '/metrics') {
      sources.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(text);
      }, () => refuse(res, errors.internal()));
      return;
    }
    refuse(res, errors.noRoute());
  });
  server.keepAliveTimeout = ADMIN_IDLE_MS;
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  // A socket that sends nothing at all is destroyed after this (no 'timeout' listener).
  server.setTimeout(ADMIN_IDLE_MS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve(); });
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
