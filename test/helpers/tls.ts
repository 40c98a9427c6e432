// Self-signed certificates made by openssl, for the HTTPS tests.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';

export interface Cert { cert: string; key: string; pem: Buffer }

/** A P-256 certificate for localhost and 127.0.0.1, written as `<name>.crt` / `<name>.key` in `dir`. */
export function makeCert(dir: string, name: string): Cert {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=thalamus-test-${name}`,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore', timeout: 20_000 });
  return { cert, key, pem: readFileSync(cert) };
}

export interface Handshake { fingerprint?: string; protocol?: string | null; alpn?: string | false | null; error?: string }

/** One TLS handshake with `port`: which certificate, protocol and ALPN the server chose. */
export function handshake(port: number, opts: { maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; minVersion?: 'TLSv1' | 'TLSv1.1'; alpn?: string[] } = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: opts.alpn, maxVersion: opts.maxVersion, minVersion: opts.minVersion });
    socket.setTimeout(5000, () => { socket.destroy(); resolve({ error: 'timeout' }); });
    socket.once('secureConnect', () => {
      const result = { fingerprint: socket.getPeerCertificate().fingerprint256, protocol: socket.getProtocol(), alpn: socket.alpnProtocol };
      socket.end();
      resolve(result);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}
