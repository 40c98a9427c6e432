// The client's address: the socket's peer, or the X-Forwarded-For entry added by the
// nearest proxy we trust (TRUSTED_PROXIES). A client can put anything in that header,
// so it is read from the right, and only while each hop is itself a trusted proxy.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

export interface Network { address: string; prefix: number; family: 'ipv4' | 'ipv6' }

/** Parses `10.0.0.0/8`, `::1` or `127.0.0.1`; undefined when it is neither. */
export function parseNetwork(text: string): Network | undefined {
  const [address = '', bits] = text.split('/');
  const v = isIP(address);
  if (!v) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
  if (prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) is `1.2.3.4`. */
function plain(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export type ClientAddress = (req: IncomingMessage) => string;

/** Addresses whose answer is remembered (then forgotten all at once). */
const KNOWN_ADDRESSES = 4096;

export function createClientAddress(trustedProxies: string[]): ClientAddress {
  const trusted = new BlockList();
  for (const text of trustedProxies) {
    const n = parseNetwork(text)!;
    trusted.addSubnet(n.address, n.prefix, n.family);
  }
  // BlockList.check builds a SocketAddress each time; the same few addresses (the proxy's,
  // keep-alive clients') come again and again.
  const known = new Map<string, boolean>();
  const isTrusted = (address: string) => {
    let answer = known.get(address);
    if (answer === undefined) {
      const v = isIP(address);
      answer = v !== 0 && trusted.check(address, v === 4 ? 'ipv4' : 'ipv6');
      if (known.size >= KNOWN_ADDRESSES) known.clear();
      known.set(address, answer);
    }
    return answer;
  };
  return (req) => {
    let address = plain(req.socket.remoteAddress ?? '');
    if (!isTrusted(address)) return address;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((h) => plain(h.trim())).filter(Boolean);
    while (hops.length) {
      const hop = hops.pop()!;
      if (!isIP(hop)) break;
      address = hop;
      if (!isTrusted(hop)) break;
    }
    return address;
  };
}
