// The deliverer's own connection (`thalamus-deliver`). It holds a session advisory lock
// (class 1952999471, key the subscription id) on each subscription its worker delivers:
// only one worker of all instances holds one, and a worker that dies (kill -9 included)
// loses its locks with this connection. Cursor and state updates go through it too,
// without waiting for the WAL flush: one lost in a crash only means a batch is sent
// again (at least once), and the commits that number changes, serialized through their
// flush (sql/020_changes.sql), are not slowed by it. Queries run one at a time.
import type pg from 'pg';
import { newClient } from '../db/target.js';
import type { Logger } from '../log.js';

export interface LockConnection {
  /** Takes the subscription's lock if no one holds it. */
  tryLock(id: number): Promise<boolean>;
  unlock(id: number): void;
  /** Runs `fn` on this connection, or on `fallback` while it is down. */
  write<T>(fn: (db: pg.Pool | pg.Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface LockOptions {
  databaseUrl: string;
  fallback: pg.Pool;
  log: Logger;
  /** Connected (again): every lock must be taken anew. */
  onConnected(): void;
  /** Lost: every lock is gone. */
  onLost(): void;
}

const LOCK_CLASS = 1952999471;
const RECONNECT_MS = 1000;

const key = (id: number) => [LOCK_CLASS, id % 2147483647] as const;

export function openLockConnection(opts: LockOptions): LockConnection {
  let client: pg.Client | undefined;
  let closed = false;
  let reconnect: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  function lost(c: pg.Client): void {
    if (client !== c) return;
    client = undefined;
    opts.onLost();
    c.end().catch(() => undefined);
    if (!closed) reconnect = setTimeout(() => void connect(), RECONNECT_MS);
  }

  async function connect(): Promise<void> {
    const c = newClient(opts.databaseUrl, { application_name: 'thalamus-deliver' });
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    client = c;
    try {
      await c.connect();
      await c.query('SET synchronous_commit = off');
      opts.onConnected();
    } catch (err) {
      if (!closed) opts.log.warn({ err }, 'the subscription deliverer could not connect; retrying');
      lost(c);
    }
  }

  /** Runs `fn` after the queries before it; `done: false` when there is no connection. */
  function onClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<{ done: true; value: T } | { done: false }> {
    const next = queue.then(async () => (client ? { done: true as const, value: await fn(client) } : { done: false as const }));
    queue = next.catch(() => undefined);
    return next;
  }

  void connect();

  return {
    async tryLock(id) {
      const c = client;
      const result = await onClient(async (x) => (await x.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int, $2::int) AS ok', [...key(id)])).rows);
      // A lock taken on a connection lost meanwhile is gone with it.
      return result.done && result.value[0]?.ok === true && client === c;
    },
    unlock(id) {
      onClient((c) => c.query('SELECT pg_advisory_unlock($1::int, $2::int)', [...key(id)])).catch(() => undefined);
    },
    async write(fn) {
      const result = await onClient(fn);
      return result.done ? result.value : fn(opts.fallback);
    },
    async close() {
      closed = true;
      clearTimeout(reconnect);
      await queue;
      const c = client;
      client = undefined;
      if (c) { c.removeAllListeners(); c.on('error', () => undefined); await c.end().catch(() => undefined); }
    },
  };
}
