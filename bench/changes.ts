// `npm run bench -- --only changes`: the relay measured on a running cluster.
// (1) Write-to-delivery latency: pages are inserted by SQL at a fixed rate (500/s by
//     default, open loop) while one SSE follower and one webhook subscription receive
//     them; for each write, the time from its COMMIT returning to the writer to the
//     SSE event, and to the webhook POST, arriving (p50/p99; the commit round trip
//     itself is shown beside).
// (2) Read rate: one follower pages through N change rows with `normal` paging
//     (limit = CHANGES_LIMIT_MAX), against `psql` selecting the same rows.
// (3) Memory: 1,000 SSE subscribers on a one-worker cluster (RSS from /proc).
// (4) What the log costs writers: INSERTs/s from 16 connections with the change
//     triggers on and off (no server running), since numbering at commit serializes
//     the commits of change-producing transactions (sql/020_changes.sql).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { request } from 'undici';
import { launch, rssOf } from './launch.js';
import { personIdOf } from './generate.js';

export interface ChangesBenchOptions { workers: number; duration: number; rate: number; rows: number; subscribers: number; people: number }
interface Account { user: string; password: string }

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]! : NaN;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** An SSE reader that calls `onChange` with each change's id as it arrives. */
function follow(base: string, path: string, auth: string, onChange: (id: string) => void): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get(base + path, { headers: { authorization: auth }, agent: false }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`SSE answered ${res.statusCode}`)); return; }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data && !block.includes('event: ')) onChange(JSON.parse(data.slice(6)).id);
        }
      });
      resolve(req);
    });
    req.on('error', reject);
  });
}

async function latency(url: string, account: Account, auth: string, opts: ChangesBenchOptions): Promise<string[]> {
  // The webhook receiver is this process, on loopback: the operator's list must name it.
  const server = await launch('thalamus', url, opts.workers, undefined, { THALAMUS_SUBSCRIPTION_ALLOW_HOSTS: '127.0.0.1' });
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  pool.on('error', () => undefined);
  const committed = new Map<string, { sent: number; ack: number }>();
  const sseAt = new Map<string, number>();
  const hookAt = new Map<string, number>();
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      for (const r of JSON.parse(Buffer.concat(chunks).toString('utf8')).results as Array<{ id: string }>) if (!hookAt.has(r.id)) hookAt.set(r.id, at);
      res.end();
    });
  });
  try {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
    const sub = await request(`${server.base}/subscriptions`, {
      method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ url: hook, secret: 'bench-secret-0123456789', kinds: ['pols'] }),
    });
    if (sub.statusCode !== 201) throw new Error(`POST /subscriptions answered ${sub.statusCode}: ${await sub.body.text()}`);
    await sub.body.dump();
    const sse = await follow(server.base, '/changes?feed=eventsource&since=now&kinds=pols', auth, (id) => { if (!sseAt.has(id)) sseAt.set(id, now()); });
    await sleep(500);
    const total = opts.rate * opts.duration;
    const began = now();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = began + (i * 1000) / opts.rate;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      const id = `bench-chg-${process.pid}-${i}`;
      const sent = now();
      writes.push(pool.query(`INSERT INTO pols (id, book, data) VALUES ($1, $2, '{"bench": true}')`, [id, personIdOf(1 + (i % opts.people))])
        .then(() => { committed.set(id, { sent, ack: now() }); }));
    }
    await Promise.all(writes);
    const wroteFor = (now() - began) / 1000;
    const deadline = Date.now() + 30_000;
    while ((sseAt.size < total || hookAt.size < total) && Date.now() < deadline) await sleep(50);
    sse.destroy();
    const from = (arrivals: Map<string, number>) => [...committed].flatMap(([id, c]) => (arrivals.has(id) ? [arrivals.get(id)! - c.ack] : []));
    const sseLat = from(sseAt);
    const hookLat = from(hookAt);
    const commit = [...committed.values()].map((c) => c.ack - c.sent);
    return [
      `writes: ${total} INSERTs at ${Math.round(total / wroteFor)}/s for ${wroteFor.toFixed(1)} s (${opts.workers} workers); commit round trip p50 ${ms(pct(commit, 50))}, p99 ${ms(pct(commit, 99))}`,
      `commit -> SSE event:     p50 ${ms(pct(sseLat, 50))}, p99 ${ms(pct(sseLat, 99))}, max ${ms(pct(sseLat, 100))} (${sseLat.length}/${total} received)`,
      `commit -> webhook POST:  p50 ${ms(pct(hookLat, 50))}, p99 ${ms(pct(hookLat, 99))}, max ${ms(pct(hookLat, 100))} (${hookLat.length}/${total} received)`,
    ];
  } finally {
    receiver.closeAllConnections();
    receiver.close();
    await pool.end();
    await server.stop();
  }
}

async function readRate(url: string, auth: string, opts: ChangesBenchOptions): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const { rows: [h] } = await pool.query<{ s: string }>('SELECT COALESCE(max(seq), 0) AS s FROM changes');
  const start = Number(h!.s);
  for (let done = 0; done < opts.rows; done += 50_000) {
    await pool.query(`INSERT INTO pols (id, book, data) SELECT 'bench-read-' || $3::int || '-' || g, 'GEN' || lpad((1 + g % $4::int)::text, 9, '0'), '{}'
      FROM generate_series($1::int, $2::int) g`, [done, Math.min(opts.rows, done + 50_000) - 1, process.pid, opts.people]);
  }
  await pool.query('VACUUM ANALYZE changes');
  await pool.end();
  const server = await launch('thalamus', url, opts.workers);
  try {
    let cursor = start;
    let read = 0;
    const began = now();
    while (read < opts.rows) {
      const res = await request(`${server.base}/changes?since=${cursor}&limit=1000`, { headers: { authorization: auth } });
      const page = await res.body.json() as { results: unknown[]; last_seq: number };
      if (!page.results.length) break;
      read += page.results.length;
      cursor = page.last_seq;
    }
    const rate = read / ((now() - began) / 1000);
    const psqlRate = await psqlSelect(url, start, opts.rows);
    return [`normal paging, limit 1000: ${read} changes at ${Math.round(rate)}/s; psql SELECT of the same rows: ${psqlRate ? `${Math.round(psqlRate)}/s (ratio ${(rate / psqlRate).toFixed(2)})` : 'psql not found'}`];
  } finally {
    await server.stop();
  }
}

function psqlSelect(url: string, after: number, rows: number): Promise<number | undefined> {
  const began = now();
  return new Promise((resolve) => {
    const child = spawn('psql', [url, '-X', '-q', '-A', '-t', '-c',
      `SELECT seq, kind, id, person, page, op, at FROM changes WHERE seq > ${after} ORDER BY seq LIMIT ${rows}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.resume();
    child.once('error', () => resolve(undefined));
    child.once('close', (code) => resolve(code === 0 ? rows / ((now() - began) / 1000) : undefined));
  });
}

async function sseMemory(url: string, auth: string, opts: ChangesBenchOptions): Promise<string[]> {
  const server = await launch('thalamus', url, 1);
  const open: http.ClientRequest[] = [];
  try {
    const warm = await follow(server.base, '/changes?feed=eventsource&since=now', auth, () => undefined);
    await sleep(300);
    warm.destroy();
    await sleep(500);
    const before = rssOf(server.pids[0]!);
    for (let i = 0; i < opts.subscribers; i += 50) {
      open.push(...await Promise.all(Array.from({ length: Math.min(50, opts.subscribers - i) }, () => follow(server.base, '/changes?feed=eventsource&since=now', auth, () => undefined))));
    }
    await sleep(1000);
    const after = rssOf(server.pids[0]!);
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    return [`${opts.subscribers} idle SSE subscribers on 1 worker: RSS ${mb(before)} -> ${mb(after)} MB (+${mb(after - before)} MB, ${((after - before) / opts.subscribers / 1024).toFixed(1)} KiB each)`];
  } finally {
    for (const r of open) r.destroy();
    await server.stop();
  }
}

async function writeCost(url: string, opts: ChangesBenchOptions): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  pool.on('error', () => undefined);
  const run = async (label: string, total: number) => {
    let next = 0;
    const began = now();
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = next++; i < total; i = next++) {
        await pool.query(`INSERT INTO pols (id, book, data) VALUES ($1, $2, '{}')`, [`bench-cost-${label}-${process.pid}-${i}`, personIdOf(1 + (i % opts.people))]);
      }
    }));
    return total / ((now() - began) / 1000);
  };
  try {
    // Interleaved, three times each: a shared machine's disk and CPU vary from second to second.
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < 3; i++) {
      on.push(await run(`on${i}`, 3000));
      await pool.query('ALTER TABLE pols DISABLE TRIGGER changes_log');
      off.push(await run(`off${i}`, 3000));
      await pool.query('ALTER TABLE pols ENABLE TRIGGER changes_log');
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    return [`write cost, 16 connections, synchronous commit: ${on.map(Math.round).join(', ')} INSERTs/s with the change log, ${off.map(Math.round).join(', ')} without (medians ${Math.round(median(on))} / ${Math.round(median(off))}, ratio ${(median(on) / median(off)).toFixed(2)})`];
  } finally {
    await pool.query('ALTER TABLE pols ENABLE TRIGGER changes_log').catch(() => undefined);
    await pool.end();
  }
}

export async function measureChanges(url: string, account: Account, opts: ChangesBenchOptions, log: (m: string) => void): Promise<void> {
  const auth = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
  log(`changes: ${opts.rate} writes/s for ${opts.duration} s, SSE follower and webhook subscription`);
  const lines = await latency(url, account, auth, opts);
  log(`changes: reading ${opts.rows} change rows with normal paging`);
  lines.push(...await readRate(url, auth, opts));
  log(`changes: ${opts.subscribers} SSE subscribers on one worker`);
  lines.push(...await sseMemory(url, auth, opts));
  log('changes: what the log costs writers');
  lines.push(...await writeCost(url, opts));
  process.stdout.write(`changes (relay):\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}
