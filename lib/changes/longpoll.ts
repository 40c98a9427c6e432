// feed=longpoll: the normal answer at once when there are changes after `since`;
// otherwise the request waits, holding no database connection, until the hub hands
// out a batch with a change this follower may see (then one page is read), or until
// `timeout` (then an empty page whose last_seq has moved past the rows it was not
// shown, so a filtered follower does not scan them again).
import type pg from 'pg';
import type { Hub } from './hub.js';
import { readPage, type ChangePage } from './reader.js';
import { matches, type Filter } from './scope.js';

export interface LongpollOptions {
  filter: Filter;
  since: number;
  limit: number;
  includeDocs: boolean;
  timeoutMs: number;
  /** Resolves when the client has gone away. */
  gone: Promise<void>;
}

export async function longpoll(pool: pg.Pool, hub: Hub, opts: LongpollOptions): Promise<ChangePage> {
  const { filter, since } = opts;
  let seen = since;
  let wake: () => void = () => undefined;
  const woken = new Promise<void>((resolve) => { wake = resolve; });
  let ended = false;
  // Joined before the first read, so a change committed in between wakes it.
  const unfollow = hub.follow({
    batch(b) {
      if (b.rows.some((r) => r.seq > since && matches(filter, r))) wake();
      else seen = Math.max(seen, b.last);
    },
    end() { ended = true; wake(); },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const first = await readPage(pool, filter, since, opts.limit, opts.includeDocs);
    if (first.rows.length || opts.timeoutMs === 0) return first;
    const timedOut = new Promise<void>((resolve) => { timer = setTimeout(resolve, opts.timeoutMs); });
    await Promise.race([woken, timedOut, opts.gone]);
    if (ended) return { rows: [], lastSeq: first.lastSeq };
    const next = await readPage(pool, filter, since, opts.limit, opts.includeDocs);
    // Rows the hub handed out are all checked; none matched unless `next` holds them.
    return next.rows.length ? next : { rows: [], lastSeq: Math.max(next.lastSeq, seen) };
  } finally {
    clearTimeout(timer);
    unfollow();
  }
}
