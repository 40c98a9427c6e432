// Which IP addresses a subscription may not reach: those of this host (loopback,
// unspecified), of the networks behind it (private, shared, unique local, link-local,
// where cloud metadata services live) and those that are no one host (multicast,
// reserved). An IPv6 address that carries an IPv4 one (mapped, compatible, NAT64, 6to4)
// is judged by the IPv4 address it reaches.
import { BlockList, isIP } from 'node:net';

export type AddressKind = 'loopback' | 'unspecified' | 'private' | 'shared' | 'link-local' | 'multicast' | 'reserved';

const V4: Array<[string, number, AddressKind]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6: Array<[string, number, AddressKind]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b:1::', 48, 'private'],
  ['100::', 64, 'reserved'],
  ['2001::', 32, 'reserved'],
  ['fc00::', 7, 'private'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'private'],
  ['ff00::', 8, 'multicast'],
];

function listOf(ranges: Array<[string, number, AddressKind]>, family: 'ipv4' | 'ipv6'): Array<[BlockList, AddressKind]> {
  return ranges.map(([address, prefix, kind]) => {
    const list = new BlockList();
    list.addSubnet(address, prefix, family);
    return [list, kind];
  });
}

const V4_LISTS = listOf(V4, 'ipv4');
const V6_LISTS = listOf(V6, 'ipv6');

/** The eight 16-bit words of an IPv6 address (isIP already said it is one). */
function words(address: string): number[] {
  let text = address.toLowerCase().split('%')[0]!;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const left = part(head);
  const right = part(tail);
  return tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

const v4Of = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** The IPv4 address an IPv6 one carries (mapped, compatible, NAT64's well-known prefix, 6to4), if it carries one. */
function carriedV4(address: string): string | undefined {
  const w = words(address);
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && w[5] === 0xffff) return v4Of(w[6]!, w[7]!);
  if (zeros(0, 6) && (w[6] !== 0 || w[7]! > 1)) return v4Of(w[6]!, w[7]!);
  if (w[0] === 0x64 && w[1] === 0xff9b && zeros(2, 6)) return v4Of(w[6]!, w[7]!);
  if (w[0] === 0x2002) return v4Of(w[1]!, w[2]!);
  return undefined;
}

/** `::ffff:127.0.0.1` (and the other IPv4-carrying forms) as the IPv4 address; others as they are. */
export function plainAddress(address: string): string {
  return isIP(address) === 6 ? carriedV4(address) ?? address : address;
}

/** Why a subscription may not reach `address`, or undefined when it may (a public address). */
export function refusedKind(address: string): AddressKind | undefined {
  const plain = plainAddress(address);
  const v = isIP(plain);
  if (v === 4) return V4_LISTS.find(([list]) => list.check(plain, 'ipv4'))?.[1];
  if (v === 6) return V6_LISTS.find(([list]) => list.check(plain, 'ipv6'))?.[1];
  return 'reserved';
}
