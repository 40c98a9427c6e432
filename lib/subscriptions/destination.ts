// Whether Thalamus may send a subscription's batches to a host: its name is resolved and
// every address it resolves to must be public (addresses.ts), unless the operator's
// SUBSCRIPTION_ALLOW_HOSTS names the host, or holds the address or a range around it
// (a node on the hospital's private network). Checked when a URL is registered, and
// again by every connection the deliverer opens (webhook.ts: the check is the lookup the
// socket connects with, so a DNS answer that changes after the check cannot slip in).
// The resolver is a parameter, so that tests can answer as a hostile DNS server would.
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { errors } from '../http/errors.js';
import { parseNetwork } from '../http/client.js';
import { plainAddress, refusedKind } from './addresses.js';

export interface ResolvedAddress { address: string; family: number }

/** Every address `hostname` resolves to (as dns.lookup with `all`); rejects when it resolves to none. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** The host resolves (also) to an address subscriptions may not reach. */
export class DestinationRefused extends Error {
  readonly code = 'DESTINATION_NOT_ALLOWED';
}

export interface Destinations {
  /** Throws 400 DESTINATION_NOT_ALLOWED unless `url`'s host may be sent to (registration, PATCH). */
  check(url: string): Promise<void>;
  /** The addresses to connect to for `host` (a name or an address), all allowed; else rejects with DestinationRefused or the resolver's error. */
  addressesOf(host: string): Promise<ResolvedAddress[]>;
}

export interface DestinationOptions {
  /** SUBSCRIPTION_ALLOW_HOSTS: host names, addresses and CIDR ranges allowed though not public. */
  allowHosts: readonly string[];
  resolve: Resolver;
  /** How long a registration waits for a DNS answer. */
  resolveTimeoutMs?: number;
}

const RESOLVE_TIMEOUT_MS = 5000;

/** `Example.org.` and `example.org` are one host; `[::1]` is `::1`. */
const hostKey = (host: string) => host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();

export function createDestinations(opts: DestinationOptions): Destinations {
  const names = new Set<string>();
  const ranges = new BlockList();
  for (const entry of opts.allowHosts) {
    const n = parseNetwork(entry);
    if (n) ranges.addSubnet(plainAddress(n.address), n.prefix, isIP(plainAddress(n.address)) === 4 ? 'ipv4' : 'ipv6');
    else names.add(hostKey(entry));
  }
  const listed = (address: string) => {
    const plain = plainAddress(address);
    return ranges.check(plain, isIP(plain) === 4 ? 'ipv4' : 'ipv6');
  };
  const allowed = (address: string) => isIP(address) !== 0 && (listed(address) || refusedKind(address) === undefined);

  async function addressesOf(host: string): Promise<ResolvedAddress[]> {
    const key = hostKey(host);
    const literal = isIP(key);
    if (literal) {
      if (!allowed(key)) throw new DestinationRefused(`${key} is a ${refusedKind(key)} address`);
      return [{ address: key, family: literal }];
    }
    const found = await opts.resolve(key);
    if (names.has(key)) return found;
    if (!found.length) throw new DestinationRefused(`${key} resolves to no address`);
    // One refused address refuses the host: a client may connect to any of them.
    const bad = found.find((a) => !allowed(a.address));
    if (bad) throw new DestinationRefused(`${key} resolves to a ${refusedKind(bad.address)} address`);
    return found;
  }

  return {
    addressesOf,
    async check(url) {
      const host = hostKey(new URL(url).hostname);
      // A host the operator names is trusted by name: it need not resolve yet.
      if (names.has(host)) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no DNS answer in time')), opts.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS);
      });
      try {
        await Promise.race([addressesOf(host), late]);
      } catch (err) {
        // An address in the URL is the client's own: say what it is. For a name, refused and
        // unresolved read the same, so the check tells nothing of this network's DNS.
        if (isIP(host)) throw errors.destinationNotAllowed(`"url" names ${(err as Error).message}: subscriptions may not reach it unless SUBSCRIPTION_ALLOW_HOSTS names it`);
        throw errors.destinationNotAllowed(`"url"'s host ${host} does not resolve to addresses subscriptions may reach (public ones, or those SUBSCRIPTION_ALLOW_HOSTS names)`);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
