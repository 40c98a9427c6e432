// The test bed of docs/scaling.md, all real and all on this machine's loopback: a
// PostgreSQL primary and its streaming hot standby (test/helpers/pgcluster.ts), two
// Thalamus instances of 2 workers each on different loopback addresses, both given the
// multi-host DATABASE_URL (target_session_attrs=read-write) and the standby as
// READ_DATABASE_URL, and nginx with the shipped nginx/thalamus.conf, its commented
// two-server upstream block in use, in front of both over TLS. close() stops everything
// it started (each instance's whole process group) and removes its folders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Agent } from 'undici';
import { freePort, startCluster, type ClusterProcess } from './cluster.js';
import { startPgCluster, waitForStreaming, type PgCluster } from './pgcluster.js';
import { NGINX, siteFor, startNginx, type Nginx } from './nginx.js';
import { makeCert, type Cert } from './tls.js';

export interface Instance { name: string; proc: ClusterProcess }

export interface TestBed {
  pg: PgCluster;
  instances: [Instance, Instance];
  nginx: Nginx;
  /** https://127.0.0.1:<port>, nginx in front of both instances. */
  base: string;
  /** Trusts the bed's certificate. */
  dispatcher: Agent;
  close(): Promise<void>;
}

/** READ_MAX_LAG of the bed's instances: short, so the lag test skips the standby quickly. */
export const BED_MAX_LAG = 2;

/** The shipped config with the two-server block in use, both instances in it, and a rate limit that a test's load stays under. */
const bedSite = (port: number, cert: Cert, upstreams: [string, string]) => siteFor(port, cert, upstreams, '5000r/s');

export async function startTestBed(log: (line: string) => void = () => undefined): Promise<TestBed> {
  if (!NGINX) throw new Error('the test bed needs nginx (apt-get install nginx; .ci/run does)');
  const dir = mkdtempSync(join(tmpdir(), 'thalamus-bed-'));
  const started: { pg?: PgCluster; instances: Instance[]; nginx?: Nginx; dispatcher?: Agent } = { instances: [] };
  const close = async () => {
    await started.dispatcher?.close().catch(() => undefined);
    await started.nginx?.stop();
    await Promise.all(started.instances.map((i) => stopInstance(i.proc)));
    await started.pg?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const t0 = Date.now();
    const pg = started.pg = await startPgCluster();
    await waitForStreaming(pg);
    log(`primary 127.0.0.1:${pg.primary.port} and streaming standby 127.0.0.1:${pg.standby.port} (pg_basebackup, ${pg.bin}) in ${Date.now() - t0} ms`);
    const hosts = `127.0.0.1:${pg.primary.port},127.0.0.1:${pg.standby.port}`;
    const common = {
      DATABASE_URL: `postgresql://postgres:${pg.password}@${hosts}/federation?target_session_attrs=read-write`,
      READ_DATABASE_URL: pg.standby.url(),
      THALAMUS_READ_MAX_LAG: String(BED_MAX_LAG),
      THALAMUS_PROCESSES: '2',
      // Tokens made by one instance are checked by the other.
      THALAMUS_SECRET_KEY: randomBytes(16).toString('hex'),
      THALAMUS_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    };
    const addresses = ['127.0.0.2', '127.0.0.3'];
    const t1 = Date.now();
    const settled = await Promise.allSettled(addresses.map((host) => startCluster(common, { host, detached: true })));
    settled.forEach((r, i) => { if (r.status === 'fulfilled') started.instances.push({ name: `instance ${'AB'[i]}`, proc: r.value }); });
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const procs = started.instances.map((i) => i.proc);
    log(`two instances (2 workers each) on ${procs.map((p) => p.base).join(' and ')} in ${Date.now() - t1} ms`);
    const cert = makeCert(dir, 'bed');
    const port = await freePort();
    const upstreams = procs.map((p) => p.base.replace('http://', '')) as [string, string];
    started.nginx = await startNginx(dir, bedSite(port, cert, upstreams), port);
    started.dispatcher = new Agent({ connect: { ca: cert.pem, servername: 'localhost' }, connections: 32, keepAliveTimeout: 30_000 });
    const instances = started.instances as [Instance, Instance];
    return {
      pg, instances, nginx: started.nginx, base: `https://127.0.0.1:${port}`, dispatcher: started.dispatcher,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** SIGKILL to the instance's whole process group (primary and workers), as `kill -9 -<pgid>`. */
export function killInstance(proc: ClusterProcess): void {
  try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone already */ }
}

async function stopInstance(proc: ClusterProcess): Promise<void> {
  await proc.stop(10_000);
  // Whatever of its group is left (workers of a primary that was killed).
  killInstance(proc);
}
