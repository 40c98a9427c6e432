// Reads are audited off the response path: rows queue in memory and one multi-row
// INSERT writes them every second (or sooner when the queue fills). A crash loses at
// most the rows of the last second; a database outage keeps up to MAX_QUEUED rows and
// drops the oldest beyond that, with a log line saying how many.
import type pg from 'pg';
import type { Logger } from '../log.js';
import { AUDIT_COLUMNS, detailOf, type AuditEntry } from './entry.js';

const FLUSH_MS = 1000;
const BATCH = 500;
const MAX_QUEUED = 50_000;

export interface AuditLog {
  /** Queues one row; returns at once. */
  record(entry: AuditEntry): void;
  /** Writes what is queued. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

/** Roles travel as one array literal per row: PostgreSQL arrays of arrays must be rectangular. */
const INSERT = `INSERT INTO audit (${AUDIT_COLUMNS})
  SELECT actor, roles::text[], action, route, record_id, person, status, client, request_id, detail
  FROM unnest($1::varchar[], $2::text[], $3::text[], $4::text[], $5::varchar[], $6::varchar[], $7::int[], $8::text[], $9::text[], $10::jsonb[])
    AS u(actor, roles, action, route, record_id, person, status, client, request_id, detail)`;

function arrayLiteral(items: string[]): string {
  return `{${items.map((x) => `"${x.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

export function createAuditLog(pool: pg.Pool, log: Logger): AuditLog {
  let queue: AuditEntry[] = [];
  let dropped = 0;
  let writing: Promise<void> = Promise.resolve();

  const write = async (rows: AuditEntry[]) => {
    await pool.query(INSERT, [
      rows.map((r) => r.actor), rows.map((r) => arrayLiteral(r.roles)), rows.map((r) => r.action), rows.map((r) => r.route), rows.map((r) => r.recordId),
      rows.map((r) => r.person), rows.map((r) => r.status), rows.map((r) => r.client), rows.map((r) => r.requestId),
      rows.map(detailOf),
    ]);
  };

  const flush = (): Promise<void> => {
    writing = writing.then(async () => {
      while (queue.length) {
        const rows = queue.slice(0, BATCH);
        try {
          await write(rows);
          queue = queue.slice(rows.length);
        } catch (err) {
          log.error({ err, queued: queue.length }, 'audit rows could not be written; will retry');
          return;
        }
      }
      if (dropped) { log.error({ dropped }, 'audit rows dropped while the database was unavailable'); dropped = 0; }
    });
    return writing;
  };

  const timer = setInterval(() => void flush(), FLUSH_MS);
  timer.unref();

  return {
    record(entry) {
      queue.push(entry);
      if (queue.length > MAX_QUEUED) { queue.shift(); dropped++; }
      if (queue.length >= BATCH) void flush();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
