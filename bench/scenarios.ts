// The load scenarios of issue 4: autocannon runs with a Basic-authenticated account
// (the baseline receives the same header and ignores it), the streamed listing of
// scenario (d) and the psql COPY rate it is compared with.
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { request } from 'undici';
import pg from 'pg';
import { personIdOf } from './generate.js';
import { rssOf, type Launched } from './launch.js';

export interface Measured { rps: number; p50: number; p99: number; requests: number; errors: number; non2xx: number }
export interface Context { people: number; duration: number; connections: number; account: { user: string; password: string } }

interface Request { method?: string; path?: string; body?: string; headers?: Record<string, string> }
interface Scenario {
  key: string;
  title: string;
  target: string;
  run(base: string, ctx: Context): Promise<Measured>;
}

let tag = 0;
const randomPerson = (ctx: Context) => personIdOf(1 + Math.floor(Math.random() * ctx.people));
const pageBody = JSON.stringify({
  page_type: 'medical', medical_context: 'encounter', summary: 'Bench visit', info: 'Blood pressure and weight at a routine check',
  node: 'Bench Clinic', relevance: 'normal', measurements: [{ bp: { systolic: 121, diastolic: 79 }, wt: 71.5 }],
  creation_info: { user: 'BENCH', timestamp: '2026-01-01T00:00:00', node: 'bench' },
});

function load(base: string, ctx: Context, next: () => Request): Promise<Measured> {
  const auth = `Basic ${Buffer.from(`${ctx.account.user}:${ctx.account.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    autocannon({
      url: base,
      connections: ctx.connections,
      duration: ctx.duration,
      // A fresh headers object per request: autocannon writes Content-Length into the one
      // it is given, which would otherwise leak from a POST into the GETs after it.
      requests: [{ setupRequest: (req: Request) => ({ ...req, ...next(), headers: { authorization: auth, 'content-type': 'application/json' } }) }],
    }, (err: Error | null, r: AutocannonResult) => {
      if (err) return reject(err);
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, errors: r.errors + r.timeouts, non2xx: r.non2xx });
    });
  });
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number; timeouts: number; non2xx: number;
}

const getPerson = (ctx: Context): Request => ({ method: 'GET', path: `/people/${randomPerson(ctx)}` });
function postPage(ctx: Context, run: number): Request {
  return { method: 'POST', path: `/pols/${randomPerson(ctx)}/B${run}-${process.pid}-${tag++}`, body: pageBody };
}

/** One second of light load, so each worker has verified the account before a measured run. */
export async function warmUp(base: string, ctx: Context): Promise<void> {
  await load(base, { ...ctx, duration: 1, connections: 4 }, () => getPerson(ctx));
}

export const SCENARIOS: Scenario[] = [
  { key: 'a', title: 'GET /people/:id, random ids', target: '>= 0.85, p99 <= 1.5x',
    run: (base, ctx) => load(base, ctx, () => getPerson(ctx)) },
  { key: 'b', title: 'POST /pols/:id/:page', target: '>= 0.80, p99 <= 1.5x',
    run: (base, ctx) => { const run = tag++; return load(base, ctx, () => postPage(ctx, run)); } },
  { key: 'c', title: 'GET /pols/:id, 50 pages', target: '>= 0.80, p99 <= 1.5x',
    run: (base, ctx) => load(base, ctx, () => ({ method: 'GET', path: `/pols/${personIdOf(1)}` })) },
  { key: 'e', title: 'mixed 80% GET person / 20% POST page', target: '-',
    run: (base, ctx) => { const run = tag++; return load(base, ctx, () => (Math.random() < 0.8 ? getPerson(ctx) : postPage(ctx, run))); } },
];

/** Scenario (d): one client reads the whole GET /people; rows per second and the workers' peak RSS. */
export async function streamPeople(server: Launched, ctx: Context): Promise<{ rows: number; rowsPerSecond: number; startRssMb: number; peakRssMb: number; bytes: number }> {
  const auth = `Basic ${Buffer.from(`${ctx.account.user}:${ctx.account.password}`).toString('base64')}`;
  let peak = 0;
  const sample = () => { for (const pid of server.pids) peak = Math.max(peak, rssOf(pid)); };
  sample();
  const startRssMb = Math.round(peak / 2 ** 20);
  const timer = setInterval(sample, 25);
  const start = process.hrtime.bigint();
  let bytes = 0;
  let rows = 0;
  let last = 0;
  let tail = Buffer.alloc(0); // the last bytes of the previous chunk, for a marker split across two
  try {
    const res = await request(`${server.base}/people`, { headers: { authorization: auth } });
    if (res.statusCode !== 200) throw new Error(`GET /people answered ${res.statusCode}`);
    for await (const chunk of res.body) {
      bytes += (chunk as Buffer).length;
      // Every element is one person object whose first key is "id" (jsonb orders keys by length).
      const b = Buffer.concat([tail, chunk as Buffer]);
      for (let i = b.indexOf('{"id"'); i !== -1; i = b.indexOf('{"id"', i + 1)) rows++;
      tail = b.subarray(Math.max(0, b.length - 4));
      last = b[b.length - 1]!;
    }
  } finally {
    clearInterval(timer);
  }
  sample();
  if (last !== 0x5d) throw new Error('the listing did not end with ]');
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { rows, rowsPerSecond: rows / seconds, startRssMb, peakRssMb: Math.round(peak / 2 ** 20), bytes };
}

/** Rows per second of `psql -c "COPY (SELECT data FROM people) TO STDOUT"`, or undefined without psql. */
export async function copyRate(databaseUrl: string): Promise<{ rowsPerSecond: number } | undefined> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM people');
  await pool.end();
  const start = process.hrtime.bigint();
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn('psql', [databaseUrl, '-X', '-q', '-c', 'COPY (SELECT data FROM people) TO STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.resume();
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 0));
  });
  if (!ok) return undefined;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { rowsPerSecond: Number(rows[0]!.n) / seconds };
}
