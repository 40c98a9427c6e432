// feed=longpoll: the normal answer at once when there are changes after `since`;
// otherwise the request waits, holding no database connection, until the hub hands
// out a batch with a change this follower may see (then one page is read), or until
// `timeout` (then an empty page whose last_seq has moved past the rows it was not
// shown, so a filtered follower does not scan them again; a reader that does not see
// everything is not told of rows past its own, reader.ts). Like a stream it holds a slot
// of the worker's (streams.ts) from its first line on, and answers 401 RIGHTS_REVOKED
// instead of a page once the principal no longer stands as verified.
import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Hub } from './hub.js';
import { positionNow, readPage, type ChangePage } from './reader.js';
import { matches, seesAll, type Filter } from './scope.js';
import type { StreamOwner, Streams } from './streams.js';
import { errors } from '../http/errors.js';

export interface LongpollOptions {
  filter: Filter;
  /** A sequence number, or 'now' (the reader's position). */
  since: number | 'now';
  limit: number;
  timeoutMs: number;
}

/** The page to answer (without documents), or undefined when the client left first. */
export async function longpoll(res: ServerResponse, pool: pg.Pool, hub: Hub, streams: Streams, owner: StreamOwner, opts: LongpollOptions): Promise<ChangePage | undefined> {
  // The client left while the request was authenticated: nobody waits for an answer.
  if (res.destroyed) return undefined;
  const { filter } = opts;
  let wake: () => void = () => undefined;
  const woken = new Promise<void>((resolve) => { wake = resolve; });
  let ended = false;
  let revoked = false;
  // Taken and listened for before anything is awaited.
  const slot = streams.open(owner, () => { revoked = true; wake(); });
  const onClose = () => wake();
  res.once('close', onClose);
  let unfollow: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const since = opts.since === 'now' ? await positionNow(pool, filter.scope) : opts.since;
    let seen = since;
    // Joined before the first read, so a change committed in between wakes it.
    if (!res.destroyed) {
      unfollow = hub.follow({
        batch(b) {
          if (b.rows.some((r) => r.seq > since && matches(filter, r))) wake();
          else seen = Math.max(seen, b.last);
        },
        end() { ended = true; wake(); },
      });
    }
    const answer = async (page: ChangePage) => {
      if (res.destroyed) return undefined;
      if (revoked || !(await slot.stands())) throw errors.rightsRevoked();
      return page;
    };
    const first = await readPage(pool, filter, since, opts.limit);
    if (first.rows.length || opts.timeoutMs === 0 || res.destroyed) return answer(first);
    const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, opts.timeoutMs); });
    await Promise.race([woken, timedOut]);
    // The worker drains: an empty page at the position already read (the database may be going too).
    if (ended) return res.destroyed ? undefined : { rows: [], lastSeq: first.lastSeq };
    if (revoked) throw errors.rightsRevoked();
    if (res.destroyed) return undefined;
    const next = await readPage(pool, filter, since, opts.limit);
    // Rows the hub handed out are all checked; none matched unless `next` holds them.
    return answer(next.rows.length || !seesAll(filter.scope) ? next : { rows: [], lastSeq: Math.max(next.lastSeq, seen) });
  } finally {
    clearTimeout(timer);
    unfollow();
    res.off('close', onClose);
    slot.release();
  }
}
