// Native HTTPS (TLS_CERT / TLS_KEY): the files are read at each worker start, so a
// reload (SIGHUP) picks up a renewed certificate. Read and checked by the primary first,
// so a bad file stops start-up, or a reload, with a message naming it.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Config } from '../lib/config.js';

export class TlsError extends Error {}

export interface TlsFiles { cert: Buffer; key: Buffer }

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsError(`cannot read the TLS ${what} ${file}: ${(err as Error).message}`);
  }
}

/** The certificate and key, checked to form a usable pair; undefined when TLS is off. */
export function loadTls(config: Pick<Config, 'tlsCert' | 'tlsKey'>): TlsFiles | undefined {
  if (!config.tlsCert) return undefined;
  const cert = read(config.tlsCert, 'certificate (TLS_CERT)');
  const key = read(config.tlsKey, 'key (TLS_KEY)');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsError(`TLS_CERT ${config.tlsCert} and TLS_KEY ${config.tlsKey} are not a usable certificate and key: ${(err as Error).message}`);
  }
  return { cert, key };
}
