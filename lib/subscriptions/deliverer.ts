// Push delivery, one per worker. A worker holds the subscriptions it delivers by a
// session advisory lock (lib/subscriptions/locks.ts): only one worker of all instances
// holds a subscription, and a worker that dies (kill -9 included) loses its locks with
// its connection, so another takes over at its next scan. For a held subscription,
// each new batch from the hub (or a retry timer) runs one delivery loop: re-read the
// row (another worker may have moved it on before), read the changes after `last_seq`
// that the owner may see now, POST them, and move `last_seq` only on a 2xx. Batches go one at a time, in order, at least once; a failure backs
// off exponentially, and after SUBSCRIPTION_PAUSE_AFTER seconds of failing the
// subscription is paused (and released) until someone resumes it.
import pg from 'pg';
import type { Logger } from '../log.js';
import type { Acl } from '../auth/acl.js';
import type { AuditLog } from '../audit/log.js';
import type { Hub } from '../changes/hub.js';
import { HttpError } from '../http/errors.js';
import { readPage } from '../changes/reader.js';
import { pageJson } from '../changes/format.js';
import { acknowledge, dueSubscriptions, loadSubscription, pause, recordFailure, type Subscription } from './progress.js';
import { ownerFilter } from './owner.js';
import { createPoster } from './webhook.js';
import type { Destinations } from './destination.js';
import { openLockConnection } from './locks.js';
import { createRerun, type Rerun } from '../tasks.js';

export interface DeliverySettings {
  batch: number;
  timeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  pauseAfterSeconds: number;
  /** Subscriptions this worker holds at most. */
  concurrency: number;
  /** CHANGES_PAGE_BYTES: a batch with documents ends once they pass this. */
  pageBytes: number;
}

export interface DelivererOptions {
  databaseUrl: string;
  pool: pg.Pool;
  hub: Hub;
  /** The roles file, as the worker read it. */
  acl: Acl;
  log: Logger;
  audit?: AuditLog;
  settings: DeliverySettings;
  /** Where batches may go (SUBSCRIPTION_ALLOW_HOSTS, the resolver): checked by every connection. */
  destinations: Destinations;
  /** How often unheld due subscriptions are looked for. */
  scanMs?: number;
}

export interface Deliverer {
  /** Ids of the subscriptions this worker holds. */
  held(): number[];
  /** Looks for due subscriptions now. */
  scan(): void;
  /**
   * Stops: a POST in flight gets its timeout to finish and be acknowledged (after that
   * it is cut, and the next holder sends its batch again); then the locks go.
   */
  close(): Promise<void>;
}

const SCAN_MS = 2000;
const SOON_MS = 50;

/** A subscription this worker holds: its delivery loop, run again when asked while it runs. */
interface Held { delivery: Rerun; timer?: NodeJS.Timeout }

type Step = 'more' | 'done';

export function createDeliverer(opts: DelivererOptions): Deliverer {
  const { pool, settings, log } = opts;
  const held = new Map<number, Held>();
  const stop = new AbortController();
  const loops = new Set<Promise<void>>();
  const poster = createPoster(opts.destinations);
  let closed = false;
  /** The last scan left due subscriptions unheld for want of room: a new batch looks again. */
  let crowded = false;
  /** ...and some of them behind: a held one that finishes its run makes room for them. */
  let waitingTurns = 0;
  let soon: NodeJS.Timeout | undefined;

  const locks = openLockConnection({
    databaseUrl: opts.databaseUrl, fallback: pool, log,
    onConnected: () => scan(),
    onLost: () => {
      for (const h of held.values()) clearTimeout(h.timer);
      held.clear();
    },
  });
  const tryLock = (id: number) => locks.tryLock(id);
  const writer = <T>(fn: (db: pg.Pool | pg.Client) => Promise<T>) => locks.write(fn);

  function release(id: number): void {
    const h = held.get(id);
    if (!h) return;
    clearTimeout(h.timer);
    held.delete(id);
    locks.unlock(id);
  }

  function later(id: number, ms: number): void {
    const h = held.get(id);
    if (!h || closed) return;
    clearTimeout(h.timer);
    h.timer = setTimeout(() => run(id), Math.max(10, ms));
  }

  /** Takes `id` as held: its delivery loop runs while this worker holds it, once more if asked while it runs. */
  function hold(id: number): void {
    const h: Held = {
      delivery: createRerun(async () => {
        try {
          while (!closed && held.get(id) === h && (await deliverOnce(id)) === 'more');
        } catch (err) {
          if (!closed) { log.warn({ err, subscription: id }, 'delivery failed; retrying'); later(id, settings.retryMinMs); }
        }
      }, {
        stop: () => closed || held.get(id) !== h,
        idle: () => { if (waitingTurns > 0) scanSoon(); },
      }),
    };
    held.set(id, h);
  }

  /** Runs the delivery loop of a held subscription, once more if asked while it runs. */
  function run(id: number): void {
    const loop = held.get(id)?.delivery.request();
    if (!loop || loops.has(loop)) return;
    loops.add(loop);
    void loop.finally(() => loops.delete(loop));
  }

  function backoff(attempts: number): number {
    const base = Math.min(settings.retryMaxMs, settings.retryMinMs * 2 ** Math.min(attempts, 30));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  async function deliverOnce(id: number): Promise<Step> {
    const sub = await loadSubscription(pool, id);
    if (!sub || sub.state === 'paused') { release(id); return 'done'; }
    if (sub.dueInMs > 0) { later(id, sub.dueInMs); return 'done'; }
    const filter = ownerFilter(opts.acl, sub);
    if (!filter) { await writer((db) => pause(db, id, 'OWNER_NOT_ALLOWED: the owner may no longer follow these changes')); release(id); return 'done'; }
    let page;
    try {
      page = await readPage(pool, filter, sub.lastSeq, settings.batch, sub.includeDocs, settings.pageBytes);
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 410) throw err;
      await writer((db) => pause(db, id, `CHANGES_EXPIRED: ${err.message}`));
      release(id);
      return 'done';
    }
    // The owner's rights were read before the page: a change committed in between (the
    // owner's own deactivation, say) goes out only if they still hold after it.
    const after = await loadSubscription(pool, id);
    if (!after || !sameRights(after, sub)) return 'more';
    if (!page.rows.length) {
      if (page.lastSeq > sub.lastSeq) await writer((db) => acknowledge(db, id, sub.lastSeq, page.lastSeq, false));
      return 'done';
    }
    const body = `{"subscription":${id},${pageJson(page).slice(1)}`;
    const outcome = await poster.post(sub.url, sub.secret, id, body, settings.timeoutMs, stop.signal);
    // Cut short by close(): not the receiver's failure; the next holder sends it again.
    if (!outcome.ok && stop.signal.aborted) return 'done';
    audit(sub, outcome.ok ? outcome.status : outcome.status ?? 0);
    if (outcome.ok) {
      const moved = await writer((db) => acknowledge(db, id, sub.lastSeq, page.lastSeq, true));
      return !moved || page.rows.length === settings.batch ? 'more' : 'done';
    }
    log.info({ subscription: id, error: outcome.detail }, 'delivery failed; retrying later');
    const delay = backoff(sub.attempts);
    const state = await writer((db) => recordFailure(db, id, sub.lastSeq, outcome.error, delay, settings.pauseAfterSeconds));
    if (state === 'paused') { log.warn({ subscription: id, error: outcome.detail }, 'subscription paused after failing too long'); release(id); }
    else later(id, delay);
    return 'done';
  }

  /** Same owner rights, cursor and state: what was read may be sent. */
  function sameRights(a: Subscription, b: Subscription): boolean {
    return a.state === b.state && a.lastSeq === b.lastSeq && JSON.stringify(a.ownerRoles) === JSON.stringify(b.ownerRoles);
  }

  function audit(sub: Subscription, status: number): void {
    opts.audit?.record({
      actor: sub.owner, roles: sub.ownerRoles ?? [], route: '/subscriptions/:id', client: new URL(sub.url).host, requestId: null,
      action: 'push', recordId: String(sub.id), person: sub.person, status,
    });
  }

  /** Returns how many held subscriptions it let go for waiting ones. */
  async function scanOnce(): Promise<number> {
    const due = await dueSubscriptions(pool, 1000);
    const listed = new Set(due.map((d) => d.id));
    for (const id of held.keys()) if (!listed.has(id) && !held.get(id)!.delivery.running) release(id);
    let waiting = 0;
    crowded = false;
    const dueHeld: number[] = [];
    for (const { id, waitMs, pending } of due) {
      if (closed) return 0;
      if (held.has(id)) { if (waitMs === 0 && pending) dueHeld.push(id); continue; }
      if (waitMs > 0) continue;
      // Only those behind need a turn; a caught-up one is taken when a change makes it behind.
      if (held.size >= settings.concurrency) { crowded = true; if (pending) waiting++; continue; }
      if (await tryLock(id)) {
        // The hub reads slowly while this worker holds none: from now on it is waited on.
        if (!held.size) opts.hub.poke();
        hold(id);
        run(id);
      }
    }
    // More subscriptions behind than this worker may hold: let idle ones go (caught up,
    // or between batches), so that they take turns here or in another worker instead of
    // some never being sent.
    let freed = 0;
    for (const [id, h] of [...held]) {
      if (waiting <= 0) break;
      if (!h.delivery.running && !dueHeld.includes(id)) { release(id); waiting--; freed++; }
    }
    for (const id of dueHeld) {
      if (waiting > 0 && !held.get(id)?.delivery.running) { release(id); waiting--; freed++; } else run(id);
    }
    waitingTurns = waiting;
    return freed;
  }

  /** One scan shortly: runs that end one after another while others wait ask for one, at most every SOON_MS. */
  function scanSoon(): void {
    if (soon || closed) return;
    soon = setTimeout(() => { soon = undefined; scan(); }, SOON_MS);
  }

  /** Whether the scan in progress let slots go: its one extra scan gives them to those waiting. */
  let refilled = false;
  const scans = createRerun(async () => {
    try {
      // Slots let go for waiting subscriptions are given to them now (once per scan),
      // in the scan's order, rather than at the next scan.
      if ((await scanOnce()) > 0 && !refilled) { refilled = true; void scans.request(); }
    } catch (err) {
      if (!closed) log.warn({ err }, 'looking for due subscriptions failed');
    }
  }, { stop: () => closed, idle: () => { refilled = false; } });
  /** Looks for due subscriptions now, or once more after the scan in progress. */
  const scan = () => { void scans.request(); };

  const unfollow = opts.hub.follow({ batch: () => { for (const id of held.keys()) run(id); if (crowded) scan(); }, end: () => undefined, idle: () => held.size === 0 });
  const timer = setInterval(scan, opts.scanMs ?? SCAN_MS);
  timer.unref();

  return {
    held: () => [...held.keys()],
    scan,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      clearTimeout(soon);
      unfollow();
      // A POST in flight may finish (and be acknowledged) within its own timeout, so a
      // graceful stop hands over without sending a batch twice; then it is cut.
      const cut = setTimeout(() => stop.abort(), settings.timeoutMs);
      await Promise.allSettled([...loops]);
      clearTimeout(cut);
      stop.abort();
      for (const h of held.values()) clearTimeout(h.timer);
      held.clear();
      poster.close();
      await locks.close();
    },
  };
}
