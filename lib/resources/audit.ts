// GET /audit?person=&since=&limit=&after=: the audit trail, streamed (or one keyset
// page with `limit`), oldest first within a page.
import type { ResourceContext } from './context.js';
import { errors } from '../http/errors.js';
import { personId } from '../http/params.js';
import { sendListing, single } from './listing.js';

const ENTRY_JSON = `jsonb_build_object('id', id, 'at', at, 'actor', actor, 'roles', actor_roles, 'action', action,
  'route', route, 'record', record_id, 'person', person, 'status', status, 'client', client, 'request_id', request_id)::text`;

export function listAudit(ctx: ResourceContext): Promise<void> {
  const conditions: string[] = [];
  const args: unknown[] = [];
  const person = single(ctx.query.person);
  if (person !== undefined) {
    args.push(personId(person));
    conditions.push(`person = $${args.length}`);
  }
  const since = single(ctx.query.since);
  if (since !== undefined) {
    const time = Date.parse(since);
    if (!/^\d{4}-\d\d-\d\d/.test(since) || Number.isNaN(time)) throw errors.badQuery('since must be an ISO 8601 date or time, such as 2026-01-31 or 2026-01-31T12:00:00Z');
    args.push(new Date(time).toISOString());
    conditions.push(`at >= $${args.length}::timestamptz`);
  }
  // With `since` alone no index gives id order cheaply (audit_at_idx is by time): PostgreSQL may sort.
  return sendListing(ctx, { table: 'audit', json: ENTRY_JSON, where: conditions.join(' AND '), args, path: '/audit', sortable: since !== undefined });
}
