// The CPU one worker spends per request, with nothing else of the bench around it: the
// HTTP server started in-process (as the tests start it, on a database of its own with
// the demo data), autocannon in a child process, 10 connections, 20,000 requests of one
// path as Ana, three times after a warm-up; the worker's own user and system CPU
// (process.cpuUsage) divided by the requests. For comparing a change of the request path.
//   npx tsx bench/worker-cpu.ts                        # GET /people/ESPGNU777ORG, request log on
//   npx tsx bench/worker-cpu.ts /pols/ESPGNU777ORG     # another path
//   LOG_LEVEL=silent npx tsx bench/worker-cpu.ts       # without the request log
//   PAGES=50 npx tsx bench/worker-cpu.ts /pols/ESPGNU777ORG   # Ana's book with 50 more pages
//   BASELINE=1 npx tsx bench/worker-cpu.ts             # the baseline server (baseline.ts) instead
// The request log goes to this process's standard output: pipe it (| grep us/request)
// as a service's goes to journald.
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../lib/config.js';
import { startServer } from '../test/helpers/server.js';
import { startBaseline } from './baseline.js';

const REQUESTS = 20_000;
const path = process.argv[2] ?? '/people/ESPGNU777ORG';
const s = await startServer({ logLevel: process.env.LOG_LEVEL ?? 'info' });
const pages = Number(process.env.PAGES ?? 0);
if (pages) {
  await s.db.pool.query(`INSERT INTO pols (id, book, data) SELECT 'bench-' || i, 'ESPGNU777ORG', jsonb_build_object('id', 'bench-' || i, 'book', 'ESPGNU777ORG',
    'page_date', '2024-01-01T10:00:00', 'summary', repeat('health event summary ', 8), 'info', 'notes of the encounter') FROM generate_series(1, $1::int) i`, [pages]);
}
let base = s.base;
if (process.env.BASELINE) {
  const server = await startBaseline(s.db.url, 0, 10);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const auth = `Basic ${Buffer.from('ESPGNU777ORG:gnusolidario').toString('base64')}`;

function load(requests: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/autocannon'), ['-c', '10', '-a', String(requests), '-H', `authorization=${auth}`, `${base}${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', () => resolve(/[\d.]+k? requests in[^\n]*/.exec(out)?.[0] ?? out.slice(-300)));
  });
}

await load(3000);
for (let i = 0; i < 3; i++) {
  const before = process.cpuUsage();
  const summary = await load(REQUESTS);
  const used = process.cpuUsage(before);
  const per = (us: number) => (us / REQUESTS).toFixed(1);
  console.error(`${process.env.BASELINE ? 'baseline ' : ''}${path}: ${per(used.user + used.system)} us/request (user ${per(used.user)}, system ${per(used.system)}); ${summary}`);
}
await s.close();
process.exit(0);
