// libpq's multi-host connection strings, which node-postgres does not read:
// `postgresql://user:pw@h1:5432,h2:5433/federation?target_session_attrs=read-write`
// (or the hosts and ports as `?host=h1,h2&port=5432,5433`). Parsed here into one
// single-host URL per host, which node-postgres does read; lib/db/target.ts picks the
// host. Only the syntax lives in this file.

/** libpq's target_session_attrs (PostgreSQL 14+): which server a session must reach. */
export type SessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';

const ATTRS: readonly SessionAttrs[] = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'];

export interface HostPort {
  /** A name, an address (IPv6 without brackets) or a Unix socket folder. */
  host: string;
  /** Undefined: the default (the URL's `port` parameter, else node-postgres's, 5432). */
  port: number | undefined;
}

export interface DatabaseUrl {
  hosts: HostPort[];
  attrs: SessionAttrs;
  /** The connection string naming `hosts[i]` alone, every other part as given. */
  hostUrl(i: number): string;
  /** `host:port` of `hosts[i]`, for log lines. */
  label(i: number): string;
}

export class DatabaseUrlError extends Error {}

const SCHEME = /^(postgres(?:ql)?:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/;

function splitHostSpec(spec: string): HostPort[] {
  if (spec === '') return [];
  return spec.split(',').map((part) => {
    const m = /^(?:\[([^\]]*)\]|([^:]*))(?::(\d*))?$/.exec(part);
    if (!m) throw new DatabaseUrlError(`cannot read the host "${part}"`);
    const host = decodeURIComponent(m[1] ?? m[2] ?? '');
    const port = m[3] ? Number(m[3]) : undefined;
    if (port !== undefined && (port < 1 || port > 65535)) throw new DatabaseUrlError(`port ${m[3]} of "${part}" is out of range`);
    return { host, port };
  });
}

const hostText = (h: HostPort) => (h.host.includes(':') ? `[${h.host}]` : encodeURIComponent(h.host));

/**
 * Reads a connection string. A string that is not a postgres:// URL (a Unix socket
 * path, libpq's key=value form) is returned as one host-less entry that node-postgres
 * reads as it always has.
 */
export function parseDatabaseUrl(url: string): DatabaseUrl {
  const m = SCHEME.exec(url);
  if (!m) return { hosts: [], attrs: 'any', hostUrl: () => url, label: () => 'the database' };
  const scheme = m[1]!;
  const authority = m[2]!;
  const path = m[3]!;
  const query = m[4] ?? '';
  const fragment = m[5] ?? '';
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  let hosts = splitHostSpec(authority.slice(at + 1));
  const params = new URLSearchParams(query.slice(1));
  const hostParam = params.get('host');
  const portParam = params.get('port');
  if (hostParam !== null) {
    // The parameter form, which libpq prefers to the authority: host=h1,h2&port=p1,p2
    // (one port for all, or one each).
    const ports = (portParam ?? '').split(',');
    if (ports.length > 1 && ports.length !== hostParam.split(',').length) throw new DatabaseUrlError('host and port list different numbers of entries');
    hosts = hostParam.split(',').map((host, i) => {
      const port = ports[ports.length > 1 ? i : 0];
      if (port && !/^\d{1,5}$/.test(port)) throw new DatabaseUrlError(`cannot read the port "${port}"`);
      return { host, port: port ? Number(port) : undefined };
    });
    params.delete('host');
    params.delete('port');
  } else if (portParam !== null && portParam.includes(',')) {
    throw new DatabaseUrlError('a list of ports needs a list of hosts');
  }
  const given = params.get('target_session_attrs') ?? 'any';
  if (!ATTRS.includes(given as SessionAttrs)) throw new DatabaseUrlError(`target_session_attrs must be one of ${ATTRS.join(', ')}, not "${given}"`);
  params.delete('target_session_attrs');
  const rest = params.toString();
  const hostUrl = (i: number) => {
    const h = hosts[i];
    if (!h) return url;
    const authorityOf = `${userinfo}${hostText(h)}${h.port !== undefined ? `:${h.port}` : ''}`;
    return `${scheme}${authorityOf}${path}${rest ? `?${rest}` : ''}${fragment}`;
  };
  const label = (i: number) => {
    const h = hosts[i];
    return h ? `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port ?? (Number(portParam) || 5432)}` : 'the database';
  };
  return { hosts, attrs: given as SessionAttrs, hostUrl, label };
}

/** Whether node-postgres cannot connect with the string alone: several hosts, or a session kind to check. */
export function needsHostSelection(url: DatabaseUrl): boolean {
  return url.hosts.length > 1 || url.attrs !== 'any';
}
