// The real nginx running nginx/thalamus.conf as shipped, with what a test must change
// (ports, certificate, upstreams) swapped in: a foreground process as the current user,
// with a prefix folder of its own, so nothing outside it is touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../lib/config.js';
import { handshake } from './tls.js';
import { waitFor } from './cluster.js';
import { TOOLS } from './tools.js';

export const NGINX = TOOLS.nginx.path;

/** The shipped site configuration. */
export function shippedSite(): string {
  return readFileSync(join(ROOT, 'nginx', 'thalamus.conf'), 'utf8');
}

/** Replaces `from` in the shipped config, failing loudly if the config no longer has it. */
export function swap(text: string, from: string | RegExp, to: string): string {
  if (!(typeof from === 'string' ? text.includes(from) : from.test(text))) throw new Error(`nginx/thalamus.conf no longer contains ${from}`);
  return text.replace(from, to);
}

/**
 * The shipped site's port-80 redirect on loopback `httpPort`, pointing at the TLS `port`;
 * without `httpPort`, the redirect's server block is taken out.
 */
function plainHttp(site: string, port: number, httpPort?: number): string {
  if (httpPort === undefined) return swap(site, /\n(?:#.*\n)*server \{\n\s*listen 80;[^}]*\}\n/, '\n');
  site = swap(site, /listen 80;\n\s*listen \[::\]:80;/, `listen 127.0.0.1:${httpPort};`);
  return swap(site, 'https://$host:8443$request_uri', `https://$host:${port}$request_uri`);
}

/**
 * The shipped site on loopback: TLS on `port` with `cert`, its upstream the given
 * instances (two: the commented block for several instances, in use), and the
 * per-address rate set to `rate` (raised: one client address sends everything in a
 * test), and the port-80 redirect on `httpPort`, or taken out without one.
 */
export function siteFor(port: number, cert: { cert: string; key: string }, upstreams: string[], rate: string, httpPort?: number): string {
  let site = shippedSite();
  if (upstreams.length === 2) {
    site = swap(site, /\nupstream thalamus \{[^}]*\}\n/, '\n');
    const block = /# upstream thalamus \{\n(?:#.*\n)*?# \}\n/.exec(site);
    if (!block) throw new Error('nginx/thalamus.conf no longer has the commented upstream block for several instances');
    site = site.replace(block[0], block[0].replace(/^# ?/gm, ''));
    site = swap(site, 'server 10.0.0.11:8080', `server ${upstreams[0]}`);
    site = swap(site, 'server 10.0.0.12:8080', `server ${upstreams[1]}`);
  } else {
    site = swap(site, 'server 127.0.0.1:8080', `server ${upstreams[0]}`);
  }
  site = plainHttp(site, port, httpPort);
  site = swap(site, 'rate=20r/s', `rate=${rate}`);
  site = swap(site, 'listen 8443 ssl http2;', `listen 127.0.0.1:${port} ssl http2;`);
  site = swap(site, /\n\s*listen \[::\]:8443 ssl http2;/, '');
  site = swap(site, '/etc/thalamus/tls/cert.pem', cert.cert);
  return swap(site, '/etc/thalamus/tls/key.pem', cert.key);
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
