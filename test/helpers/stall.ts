// Clients that misbehave on purpose: raw sockets that send a request and never read the
// answer, and timed loops of well-behaved requests to measure what others see meanwhile.
import net from 'node:net';
import { request, Agent } from 'undici';
import { basic, type Account } from './http.js';

/** A socket that sent `GET path` and reads nothing (paused before any data arrives). */
export function stalledReader(base: string, path: string, headers: Record<string, string> = {}): Promise<net.Socket> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.pause();
      const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
      socket.write(lines.join('\r\n'), (err) => (err ? reject(err) : resolve(socket)));
    });
    socket.on('error', () => undefined); // the server may reset it; nobody reads it anyway
  });
}

export interface Timed { path: string; status: number; ms: number }

/**
 * Loops of GET requests (each loop one account and path, one request after another)
 * until `stop()`; returns every request's status and latency.
 */
export function timedLoops(base: string, loops: { as: Account; path: string }[]): { stop(): Promise<Timed[]> } {
  const dispatcher = new Agent({ connections: loops.length, keepAliveTimeout: 30_000 });
  const out: Timed[] = [];
  let running = true;
  const run = async ({ as, path }: { as: Account; path: string }) => {
    while (running) {
      const start = performance.now();
      let status = 0;
      try {
        const res = await request(base + path, { headers: { authorization: basic(as) }, dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 });
        await res.body.dump();
        status = res.statusCode;
      } catch { /* status 0 */ }
      out.push({ path, status, ms: performance.now() - start });
    }
  };
  const all = loops.map(run);
  return {
    async stop() {
      running = false;
      await Promise.all(all);
      await dispatcher.close();
      return out;
    },
  };
}

/** The `p`-th percentile (0-100) of `values`. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
