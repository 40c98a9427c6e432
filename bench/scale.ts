// `--only scale`: requests per second of scenarios (a) and (e) through nginx (the shipped
// nginx/thalamus.conf, TLS, its commented two-server upstream block for two) in front of
// one Thalamus instance and in front of two, each instance `workers` workers on the same
// bench database; one instance without nginx too, for what the proxy costs. On one
// machine the instances share its cores with each other, nginx, PostgreSQL and the load
// generator: with 2 cores the ratio measures the overhead of a second instance and of
// the proxy, not a gain; a gain needs the instances on hosts of their own.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, freePort, type Launched } from './launch.js';
import { SCENARIOS, warmUp, type Context, type Measured } from './scenarios.js';
import { NGINX, siteFor, startNginx, type Nginx } from '../test/helpers/nginx.js';
import { makeCert, type Cert } from '../test/helpers/tls.js';

export interface ScaleOptions { workers: number; duration: number; connections: number; people: number }

// One client address sends everything: the per-address limit would measure itself.
const site = (port: number, cert: Cert, upstreams: string[]) => siteFor(port, cert, upstreams, '1000000r/s');

const cell = (m: Measured) => `${Math.round(m.rps)} req/s, p99 ${m.p99} ms${m.errors || m.non2xx ? ` (${m.errors} errors, ${m.non2xx} non-2xx)` : ''}`;

export async function measureScale(url: string, account: Context['account'], opts: ScaleOptions, log: (msg: string) => void): Promise<void> {
  if (!NGINX) throw new Error('--only scale needs nginx (apt-get install nginx)');
  const dir = mkdtempSync(join(tmpdir(), 'thalamus-bench-scale-'));
  const servers: Launched[] = [];
  const proxies: Nginx[] = [];
  try {
    const cert = makeCert(dir, 'bench');
    const one = await launch('thalamus', url, opts.workers);
    servers.push(one);
    const two = await launch('thalamus', url, opts.workers);
    servers.push(two);
    const hostOf = (l: Launched) => l.base.replace('http://', '');
    const ports = [await freePort(), await freePort()] as const;
    for (const [i, ups] of [[hostOf(one)], [hostOf(one), hostOf(two)]].entries()) {
      const d = join(dir, `nginx-${i + 1}`);
      mkdirSync(d);
      proxies.push(await startNginx(d, site(ports[i]!, cert, ups), ports[i]!));
    }
    const targets = [
      { name: '1 instance, direct', base: one.base },
      { name: '1 instance via nginx', base: `https://127.0.0.1:${ports[0]}` },
      { name: '2 instances via nginx', base: `https://127.0.0.1:${ports[1]}` },
    ];
    const ctx: Context = { people: opts.people, duration: opts.duration, connections: opts.connections, account };
    for (const t of targets) await warmUp(t.base, ctx);
    const rows: string[] = [];
    for (const key of ['a', 'e']) {
      const s = SCENARIOS.find((x) => x.key === key)!;
      const results: Measured[] = [];
      for (const t of targets) {
        log(`scale: (${key}) ${s.title}, ${t.name}`);
        results.push(await s.run(t.base, ctx));
      }
      const [direct, proxied, both] = results as [Measured, Measured, Measured];
      rows.push(`| (${key}) ${s.title} | ${cell(direct)} | ${cell(proxied)} | ${cell(both)} | ${(both.rps / proxied.rps).toFixed(2)} | ${(proxied.rps / direct.rps).toFixed(2)} |`);
    }
    process.stdout.write([
      '',
      `${opts.workers} workers per instance, ${opts.connections} connections, ${opts.duration} s per run, ${opts.people} generated people; nginx: one process, TLS, HTTP/1.1 to the instances`,
      '| scenario | 1 instance, direct | 1 instance via nginx | 2 instances via nginx | 2 / 1 via nginx | nginx / direct |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'));
  } finally {
    await Promise.all(proxies.map((p) => p.stop().catch(() => undefined)));
    await Promise.all(servers.map((x) => x.stop().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}
