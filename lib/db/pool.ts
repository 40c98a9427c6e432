// The PostgreSQL pool each worker uses. jsonb columns are selected as text where the
// server only relays them, so they are not parsed and re-serialized in JavaScript. A URL
// naming several hosts (or target_session_attrs) gets lib/db/target.ts's host choice.
// Whatever the driver raises that is not PostgreSQL's own error comes out of this pool
// as DatabaseUnavailableError (errors.ts), so callers tell failures apart by type.
import pg from 'pg';
import { asDatabaseError } from './errors.js';
import { poolTarget } from './target.js';

/** A pg.Pool whose promise API reports connection failures as DatabaseUnavailableError. */
class Pool extends pg.Pool {
  override connect(...args: unknown[]): never {
    const result = (super.connect as (...a: unknown[]) => unknown)(...args);
    return (result instanceof Promise ? result.catch((err) => { throw asDatabaseError(err); }) : result) as never;
  }

  override query(...args: unknown[]): never {
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    return (result instanceof Promise ? result.catch((err) => { throw asDatabaseError(err); }) : result) as never;
  }
}

export interface PoolOptions {
  url: string;
  size: number;
  applicationName?: string;
  /** Ends a session idle inside a transaction this long, in ms (default 60 s; 0: never, for an import fed by a slow pipe). */
  idleInTransactionTimeout?: number;
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new Pool({
    ...poolTarget(opts.url),
    max: opts.size,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    idle_in_transaction_session_timeout: opts.idleInTransactionTimeout ?? 60_000,
    application_name: opts.applicationName ?? 'thalamus',
  });
  // An idle client that loses its connection emits here; without a listener the process would die.
  pool.on('error', () => undefined);
  return pool;
}

export async function closePool(pool: pg.Pool): Promise<void> {
  await pool.end();
}

/** A client checked out of a pool, watched for connection errors for as long as it is out. */
export interface Checkout {
  client: pg.PoolClient;
  /** Runs a statement on the client; a failure that is not PostgreSQL's is DatabaseUnavailableError. */
  query<R extends pg.QueryResultRow>(statement: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** What the connection reported while out (PostgreSQL ended it, say): it is then unusable. */
  readonly failure: Error | undefined;
  /**
   * `work`, or a rejection with that failure as soon as there is one. For waits that
   * node-postgres may never end on its own: a pg-cursor read whose CommandComplete
   * arrived just before the connection went is neither answered nor failed. A listener
   * per wait, removed once it settles (racing one long-lived promise would keep every
   * settled result reachable for as long as the checkout lasts).
   */
  orFailure<T>(work: Promise<T>): Promise<T>;
  /** Gives the client back: to the pool when healthy and not `discard`, otherwise closed. */
  release(discard?: boolean): void;
}

/**
 * Checks a client out with an 'error' listener for the whole checkout. pg-pool removes
 * its own listener from a client it hands out, so a backend terminated meanwhile (a
 * restart, a failover, pg_terminate_backend) would emit 'error' with no listener and
 * end the process. A client that failed is never put back.
 */
export async function checkout(pool: pg.Pool): Promise<Checkout> {
  const client = await pool.connect();
  let failure: Error | undefined;
  let released = false;
  const waiting = new Set<(err: Error) => void>();
  const onError = (err: Error) => {
    failure ??= err;
    for (const fail of waiting) fail(err);
  };
  client.on('error', onError);
  return {
    client,
    query: <R extends pg.QueryResultRow>(statement: string | pg.QueryConfig, values?: unknown[]) =>
      (typeof statement === 'string' ? client.query<R>(statement, values) : client.query<R>(statement)).catch((err) => { throw asDatabaseError(err); }),
    get failure() { return failure; },
    orFailure<T>(work: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (failure) { work.catch(() => undefined); reject(failure); return; }
        const fail = (err: Error) => { waiting.delete(fail); work.catch(() => undefined); reject(err); };
        waiting.add(fail);
        work.then((v) => { waiting.delete(fail); resolve(v); }, (err: unknown) => { waiting.delete(fail); reject(err); });
      });
    },
    release(discard = false) {
      if (released) return;
      released = true;
      // pg-pool attaches its idle listener again inside release(), before ours goes.
      client.release(failure ?? (discard ? true : undefined));
      client.off('error', onError);
    },
  };
}

/** SQLSTATEs a server sends as it ends the session: class 08 (connection) and 57P (shutdown, crash, starting up). */
const SESSION_ENDED = /^(08|57P)/;

/**
 * Whether `err`, thrown by a query on `out`, means the connection went rather than the
 * query failed: the client saw it break, or the server said it is ending the session
 * (a fast shutdown answers the running query with 57P01 before the socket closes).
 */
export function connectionLost(out: Checkout, err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return out.failure !== undefined || (typeof code === 'string' && SESSION_ENDED.test(code));
}

/** Runs `fn` inside a transaction on one client, committing on success. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: Checkout) => Promise<T>): Promise<T> {
  const out = await checkout(pool);
  try {
    await out.query('BEGIN');
    const result = await fn(out);
    await out.query('COMMIT');
    out.release();
    return result;
  } catch (err) {
    let discard = Boolean(out.failure);
    if (!discard) await out.client.query('ROLLBACK').catch(() => { discard = true; });
    out.release(discard);
    throw err;
  }
}

/**
 * Resolves once `pool` has given a connection that answers `SELECT 1`, within `ms`;
 * rejects with the reason otherwise. It waits in the pool's queue like any request, so
 * it fails when requests would.
 */
export async function probePool(pool: pg.Pool, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const taking = checkout(pool);
  const probe = taking.then(async (out) => {
    try {
      if (late) return;
      await out.client.query('SELECT 1');
    } finally {
      out.release();
    }
  });
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the database did not answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([probe, expired]);
  } catch (err) {
    late = true;
    probe.catch(() => undefined);
    if ((err as Error).message.startsWith('the database')) throw err;
    throw new Error(`the database is unavailable: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
