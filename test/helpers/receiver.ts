// A webhook receiver for the subscription tests: a plain node:http server on an
// ephemeral loopback port that records every POST (its body, whether its signature
// verifies with the secret) and answers as the test decides: a status, or holding
// the request unanswered (a receiver that hangs mid-batch).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from '../../lib/subscriptions/signature.js';

export interface Delivery {
  at: number;
  subscription: number;
  seqs: number[];
  lastSeq: number;
  signed: boolean;
  body: string;
  /** Who sent it: the sending socket's local port, to find the worker. */
  remotePort: number;
}

export type Answer = number | 'hold';

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Decides each answer (default 200). */
  answer: (delivery: Delivery, n: number) => Answer;
  /** Every distinct seq received, in order of first arrival. */
  seqs(): number[];
  /** Answers the held requests with `status`. */
  releaseHeld(status?: number): void;
  close(): Promise<void>;
}

/** `host` and `port`: where to listen (default 127.0.0.1, an ephemeral port); another loopback address stands for another host. */
export async function startReceiver(secret: string, at: { host?: string; port?: number } = {}): Promise<Receiver> {
  const held: http.ServerResponse[] = [];
  const receiver: Receiver = {
    url: '',
    deliveries: [],
    answer: () => 200,
    seqs() {
      const seen = new Set<number>();
      const out: number[] = [];
      for (const d of receiver.deliveries) for (const s of d.seqs) if (!seen.has(s)) { seen.add(s); out.push(s); }
      return out;
    },
    releaseHeld(status = 200) {
      for (const res of held.splice(0)) { if (!res.destroyed) { res.statusCode = status; res.end(); } }
    },
    close: () => new Promise<void>((resolve) => { receiver.releaseHeld(503); server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: { subscription?: number; results?: Array<{ seq: number }>; last_seq?: number } = {};
      try { json = JSON.parse(body); } catch { /* recorded as is */ }
      const delivery: Delivery = {
        at: Date.now(), subscription: Number(json.subscription), seqs: (json.results ?? []).map((r) => r.seq), lastSeq: Number(json.last_seq),
        signed: verify(secret, body, req.headers['x-thalamus-signature'] as string | undefined), body, remotePort: req.socket.remotePort ?? 0,
      };
      receiver.deliveries.push(delivery);
      const answer = receiver.answer(delivery, receiver.deliveries.length);
      if (answer === 'hold') { held.push(res); return; }
      res.statusCode = answer;
      res.end();
    });
  });
  const host = at.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(at.port ?? 0, host, () => resolve()));
  receiver.url = `http://${host}:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}
