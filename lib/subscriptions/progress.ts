// Delivery state in the database: which subscriptions are due, one subscription with
// its owner's current roles, and the three outcomes of a try (acknowledged, failed,
// paused). Every update names the `last_seq` the try started from, so a worker whose
// lock was lost meanwhile can never move a cursor another worker already moved.
import type pg from 'pg';
import type { Kind } from '../changes/kinds.js';

type Db = pg.Pool | pg.ClientBase;

export interface Due {
  id: number;
  waitMs: number;
  /** Its cursor is behind the log's head: there may be changes for it. */
  pending: boolean;
}

/**
 * Subscriptions not paused, with how long until each is due and whether it is behind.
 * Those due and behind come first, owners taking turns (every owner's first, then every
 * owner's second, ...), so one owner's many subscriptions can neither push another's out
 * of `limit` nor to the back of the queue; then the rest, soonest first.
 */
export async function dueSubscriptions(db: Db, limit: number): Promise<Due[]> {
  const { rows } = await db.query<{ id: string; wait: number; pending: boolean }>(
    `SELECT id, wait, pending FROM (
       SELECT id, owner, next_attempt_at, GREATEST(0, extract(epoch FROM next_attempt_at - now()) * 1000)::float8 AS wait,
         last_seq < (SELECT COALESCE(max(seq), 0) FROM changes) AS pending
       FROM subscriptions WHERE state <> 'paused') s
     ORDER BY (wait = 0 AND pending) DESC, row_number() OVER (PARTITION BY owner, wait = 0 AND pending ORDER BY next_attempt_at, id),
       next_attempt_at, id
     LIMIT $1`, [limit]);
  return rows.map((r) => ({ id: Number(r.id), waitMs: r.wait, pending: r.pending }));
}

export interface Subscription {
  id: number;
  owner: string;
  url: string;
  secret: string;
  kinds: Kind[] | null;
  person: string | null;
  includeDocs: boolean;
  lastSeq: number;
  state: 'active' | 'failing' | 'paused';
  attempts: number;
  /** Milliseconds until the next try is due (0: now). */
  dueInMs: number;
  /** The owner's roles now; null when the owner no longer exists or may not log in. */
  ownerRoles: string[] | null;
}

export async function loadSubscription(db: Db, id: number): Promise<Subscription | undefined> {
  const { rows } = await db.query<{
    owner: string; url: string; secret: string; kinds: Kind[] | null; person: string | null; include_docs: boolean; last_seq: string;
    state: Subscription['state']; attempts: number; wait: number; roles: unknown; usable: boolean | null;
  }>(
    `SELECT s.owner, s.url, s.secret, s.kinds, s.person, s.include_docs, s.last_seq, s.state, s.attempts,
       GREATEST(0, extract(epoch FROM s.next_attempt_at - now()) * 1000)::float8 AS wait,
       p.data->'roles' AS roles, (p.id IS NOT NULL AND COALESCE(p.data->'active', 'true'::jsonb) <> 'false'::jsonb) AS usable
     FROM subscriptions s LEFT JOIN people p ON p.id = s.owner WHERE s.id = $1`, [id]);
  const r = rows[0];
  if (!r) return undefined;
  const roles = Array.isArray(r.roles) && r.roles.every((x) => typeof x === 'string') ? (r.roles as string[]) : [];
  return {
    id, owner: r.owner, url: r.url, secret: r.secret, kinds: r.kinds, person: r.person, includeDocs: r.include_docs,
    lastSeq: Number(r.last_seq), state: r.state, attempts: r.attempts, dueInMs: r.wait, ownerRoles: r.usable ? roles : null,
  };
}

/** The receiver took the batch (or there was nothing to send up to `to`): move on. */
export async function acknowledge(db: Db, id: number, from: number, to: number, delivered: boolean): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE subscriptions SET last_seq = $3, state = 'active', attempts = 0, last_error = NULL, failing_since = NULL,
       next_attempt_at = now(), delivered_at = CASE WHEN $4::boolean THEN now() ELSE delivered_at END
     WHERE id = $1 AND last_seq = $2 AND state <> 'paused'`, [id, from, to, delivered]);
  return rowCount === 1;
}

/**
 * A failed try: retry after `delayMs`, or pause once it has been failing for more than
 * `pauseAfterSeconds` (0: never). Returns the state it is left in.
 */
export async function recordFailure(db: Db, id: number, from: number, error: string, delayMs: number, pauseAfterSeconds: number): Promise<string | undefined> {
  const { rows } = await db.query<{ state: string }>(
    `UPDATE subscriptions SET attempts = attempts + 1, last_error = $3::text, failing_since = COALESCE(failing_since, now()),
       state = CASE WHEN $5::int > 0 AND COALESCE(failing_since, now()) <= now() - make_interval(secs => $5::int) THEN 'paused' ELSE 'failing' END,
       next_attempt_at = now() + make_interval(secs => $4::float8 / 1000), updated_at = now()
     WHERE id = $1 AND last_seq = $2 AND state <> 'paused' RETURNING state`, [id, from, error.slice(0, 500), delayMs, pauseAfterSeconds]);
  return rows[0]?.state;
}

/** Stops delivery until someone resumes it (PATCH state=active): the owner lost its rights, or the log moved on. */
export async function pause(db: Db, id: number, error: string): Promise<void> {
  await db.query(`UPDATE subscriptions SET state = 'paused', last_error = $2, updated_at = now() WHERE id = $1`, [id, error]);
}
