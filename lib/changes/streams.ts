// The worker's open change streams and long polls: how many it holds, in all
// (CHANGES_MAX_STREAMS), per account and per client address (CHANGES_STREAMS_PER_*), so
// that no one client takes every slot; and whether the rights each was opened with still
// stand. A delivery asks before it writes (stands()); a sweep every heartbeat asks for
// every open one in one statement (lib/auth/standing.ts) and ends those whose password,
// roles, active state or lockout changed, so an idle stream ends too. A roles.cfg change
// reaches them by the reload, which replaces the workers and ends their streams.
import type { Verified } from '../auth/verified.js';
import type { StandingCheck } from '../auth/standing.js';
import { lockoutAddress } from '../auth/lockout.js';
import { errors } from '../http/errors.js';

export interface StreamLimits {
  perWorker: number;
  perAccount: number;
  perAddress: number;
  /** IPv6 addresses are counted by this prefix (LOCKOUT_IPV6_PREFIX). */
  ipv6Prefix: number;
  /** Milliseconds between sweeps (CHANGES_HEARTBEAT_MS). */
  sweepMs: number;
}

export interface StreamOwner {
  account: string;
  /** The client's address (an IPv6 one counted by its LOCKOUT_IPV6_PREFIX). */
  address: string;
  /** What the principal was verified as; without it, the rights never stand. */
  standing: Verified | undefined;
}

export interface StreamSlot {
  /** Whether the principal still stands as verified, asked of the database now. */
  stands(): Promise<boolean>;
  /** Gives the slot back; once. */
  release(): void;
}

export interface Streams {
  /**
   * Takes a slot, or throws TOO_MANY_STREAMS (503) or TOO_MANY_OWN_STREAMS (429).
   * `revoked` is called when a sweep finds the principal's rights gone.
   */
  open(owner: StreamOwner, revoked: () => void): StreamSlot;
  /** Open streams and long polls. */
  size(): number;
}

interface Entry { owner: StreamOwner; revoked: () => void; account: string; address: string }

export function createStreams(limits: StreamLimits, check: StandingCheck): Streams {
  const open = new Set<Entry>();
  const counts = new Map<string, number>();
  let sweeper: NodeJS.Timeout | undefined;
  const count = (key: string) => counts.get(key) ?? 0;
  const add = (key: string, by: number) => {
    const n = count(key) + by;
    if (n > 0) counts.set(key, n); else counts.delete(key);
  };
  const stands = (owner: StreamOwner) => (owner.standing ? check.stands(owner.standing) : Promise.resolve(false));

  function sweep(): void {
    // Every call of this turn goes into one statement.
    for (const e of open) {
      stands(e.owner).then((ok) => { if (!ok && open.has(e)) e.revoked(); }, () => undefined);
    }
  }

  return {
    open(owner, revoked) {
      const account = `a:${owner.account}`;
      const address = `ip:${lockoutAddress(owner.address, limits.ipv6Prefix)}`;
      if (open.size >= limits.perWorker) throw errors.tooManyStreams();
      if (count(account) >= limits.perAccount) throw errors.tooManyOwnStreams('account');
      if (count(address) >= limits.perAddress) throw errors.tooManyOwnStreams('address');
      const entry: Entry = { owner, revoked, account, address };
      open.add(entry);
      add(account, 1);
      add(address, 1);
      // Sweeps run while something is open, and stop with the last one.
      if (!sweeper) { sweeper = setInterval(sweep, limits.sweepMs); sweeper.unref(); }
      let released = false;
      return {
        stands: () => stands(owner),
        release() {
          if (released) return;
          released = true;
          open.delete(entry);
          add(account, -1);
          add(address, -1);
          if (!open.size) { clearInterval(sweeper); sweeper = undefined; }
        },
      };
    },
    size: () => open.size,
  };
}
