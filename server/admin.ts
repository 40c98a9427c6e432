// The admin listener (ADMIN_LISTEN, loopback by default), run by the primary:
// /healthz (the process answers), /readyz (the database answers within 1 s), /metrics
// (Prometheus text for the whole cluster).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AdminSources {
  /** Resolves when the cluster can serve requests; rejects with the reason otherwise. */
  ready(): Promise<void>;
  metrics(): Promise<string>;
}

export interface Admin { address: AddressInfo; close(): Promise<void> }

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

export async function startAdmin(listen: { host: string; port: number }, sources: AdminSources): Promise<Admin> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'Method not allowed', code: 'METHOD_NOT_ALLOWED' });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      sources.ready().then(
        () => json(res, 200, { status: 'ready' }),
        (err: Error) => json(res, 503, { status: 'unavailable', reason: err.message }),
      );
      return;
    }
    if (path === '/metrics') {
      sources.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(text);
      }, () => json(res, 500, { error: 'Internal server error', code: 'INTERNAL' }));
      return;
    }
    json(res, 404, { error: 'No such endpoint', code: 'NO_ROUTE' });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve(); });
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
