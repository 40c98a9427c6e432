// GET /audit?person=&since=&limit=&after=: the audit trail, streamed (or one keyset
// page with `limit`), oldest first within a page.
import sql, { type Sql } from 'sql-template-tag';
import type { ResourceContext } from './context.js';
import { errors } from '../http/errors.js';
import { personId } from '../http/params.js';
import type { Reply } from '../http/reply.js';
import { listingReply, single } from './listing.js';

const ENTRY_JSON = `jsonb_build_object('id', id, 'at', at, 'actor', actor, 'roles', actor_roles, 'action', action,
  'route', route, 'record', record_id, 'person', person, 'status', status, 'client', client, 'request_id', request_id, 'detail', detail)::text`;

export function listAudit(ctx: ResourceContext): Promise<Reply> {
  const where: Sql[] = [];
  const person = single(ctx.query.person);
  if (person !== undefined) {
    let id: string;
    try {
      id = personId(person);
    } catch {
      throw errors.badQuery('person must be a person id');
    }
    where.push(sql`person = ${id}::varchar`);
  }
  const since = single(ctx.query.since);
  if (since !== undefined) where.push(sql`at >= ${isoInstant(since)}::timestamptz`);
  // With `since` alone no index gives id order cheaply (audit_at_idx is by time): PostgreSQL may sort.
  return listingReply(ctx, { table: 'audit', json: ENTRY_JSON, where, path: '/audit', sortable: since !== undefined });
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * An ISO 8601 date or time (UTC unless it names an offset) from year 1 to 9999 as an
 * instant PostgreSQL accepts; a date that does not exist (2026-02-30) is a 400.
 */
export function isoInstant(text: string): string {
  const bad = () => errors.badQuery('since must be an ISO 8601 date or time from year 1 to 9999, such as 2026-01-31 or 2026-01-31T12:00:00Z');
  const m = ISO.exec(text);
  if (!m) throw bad();
  const n = (i: number) => Number(m[i] ?? 0);
  const [year, month, day, hour, minute, second] = [n(1), n(2), n(3), n(4), n(5), n(6)];
  // setUTCFullYear, unlike Date.UTC, does not read years below 100 as 19xx.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) throw bad();
  const offsetMinutes = m[9] ? (m[9] === '-' ? -1 : 1) * (n(10) * 60 + n(11)) : 0;
  const instant = new Date(date.getTime() + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + Math.round(Number(m[7] ?? 0) * 1000));
  if (year < 1 || instant.getUTCFullYear() < 1 || instant.getUTCFullYear() > 9999) throw bad();
  return instant.toISOString();
}
