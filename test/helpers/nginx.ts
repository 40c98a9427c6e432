// The real nginx running nginx/thalamus.conf as shipped, with what a test must change
// (ports, certificate, upstreams) swapped in: a foreground process as the current user,
// with a prefix folder of its own, so nothing outside it is touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../lib/config.js';
import { handshake } from './tls.js';
import { waitFor } from './cluster.js';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

/** The shipped site configuration. */
export function shippedSite(): string {
  return readFileSync(join(ROOT, 'nginx', 'thalamus.conf'), 'utf8');
}

/** Replaces `from` in the shipped config, failing loudly if the config no longer has it. */
export function swap(text: string, from: string | RegExp, to: string): string {
  if (!(typeof from === 'string' ? text.includes(from) : from.test(text))) throw new Error(`nginx/thalamus.conf no longer contains ${from}`);
  return text.replace(from, to);
}

export interface Nginx {
  /** Everything nginx printed, and its error log. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Writes `site` into `dir` with a main configuration around it (one process, no
 * privilege drop, temporary files in `dir`) and starts nginx; resolves once a TLS
 * handshake on `port` succeeds.
 */
export async function startNginx(dir: string, site: string, port: number): Promise<Nginx> {
  if (!NGINX) throw new Error('nginx is required (apt-get install nginx; .ci/run does)');
  writeFileSync(join(dir, 'thalamus.conf'), site);
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/thalamus.conf;
}
`);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const errorLog = () => { try { return readFileSync(join(dir, 'error.log'), 'utf8'); } catch { return ''; } };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => { gone = true; });
  const nginx: Nginx = {
    log: () => out + errorLog(),
    async stop() {
      if (gone) return;
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitFor('nginx to listen', async () => {
      if (gone) throw new Error(`nginx exited: ${nginx.log()}`);
      return !(await handshake(port)).error;
    }, 15_000);
  } catch (err) {
    await nginx.stop();
    throw err;
  }
  return nginx;
}
