// What a database failure means, decided by its type and SQLSTATE, never by its message:
// PostgreSQL's own errors (pg.DatabaseError) by class, and everything else the driver
// raised on the way there or back (a refused or dropped connection, the pool's connect
// timeout) as the database being unavailable. The pool (pool.ts) wraps the latter in
// DatabaseUnavailableError, so nothing else need guess where an error came from.
import pg from 'pg';

/** The driver could not reach the database, or lost it mid-statement. */
export class DatabaseUnavailableError extends Error {
  constructor(readonly cause: unknown) {
    super(`the database is unavailable: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/**
 * A listing held its connection past its bound (lib/db/listing/batches.ts): the connection
 * was taken back and the read waiting on it fails with this. A timeout, as PostgreSQL's own.
 */
export class ConnectionHeldTooLong extends Error {
  constructor() {
    super('the listing held its connection past its time bound');
  }
}

export type DbFailure =
  /** Class 22 (a value out of range, badly encoded, an invalid date) or 54 (too large): from the client's input. */
  | 'bad-input'
  /** 57014: the statement ran past its timeout (or a listing held its connection past it: ConnectionHeldTooLong). */
  | 'timeout'
  /** Classes 08, 53, 57P (connection, resources, operator intervention), or no connection at all. */
  | 'unavailable'
  /** 23505 */
  | 'unique'
  /** 23503 */
  | 'foreign-key';

/** Node's own codes for a socket that could not connect or broke. */
const SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function classifyDbError(err: unknown): DbFailure | undefined {
  if (err instanceof DatabaseUnavailableError) return 'unavailable';
  if (err instanceof ConnectionHeldTooLong) return 'timeout';
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    if (code === '23505') return 'unique';
    if (code === '23503') return 'foreign-key';
    if (code === '57014') return 'timeout';
    if (code.startsWith('22') || code.startsWith('54')) return 'bad-input';
    if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')) return 'unavailable';
    return undefined;
  }
  const code = (err as { code?: unknown } | null)?.code;
  // Class 08 raised on our side too: no host of a multi-host URL takes the session wanted (target.ts).
  return typeof code === 'string' && (SYSTEM_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) ? 'unavailable' : undefined;
}

/** Re-throws what the driver raised: PostgreSQL's errors as they are, the rest as DatabaseUnavailableError. */
export function asDatabaseError(err: unknown): Error {
  if (err instanceof pg.DatabaseError || err instanceof DatabaseUnavailableError) return err;
  return new DatabaseUnavailableError(err);
}
