// The PostgreSQL pool each worker uses. jsonb columns are selected as text where the
// server only relays them, so they are not parsed and re-serialized in JavaScript.
import pg from 'pg';

export interface PoolOptions {
  url: string;
  size: number;
  /** Default statement timeout in ms for every statement (0: none). */
  statementTimeout?: number;
  applicationName?: string;
  /** Ends a session idle inside a transaction this long, in ms (default 60 s; 0: never, for an import fed by a slow pipe). */
  idleInTransactionTimeout?: number;
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.size,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    statement_timeout: opts.statementTimeout || undefined,
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

/** Runs `fn` inside a transaction on one client, committing on success. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch {
      client.release(true);
    }
    throw err;
  }
}
