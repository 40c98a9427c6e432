// One audit row, and the SQL that appends it inside another statement: a write and
// its audit row are one statement, so neither lands without the other.
import sql, { type Sql } from 'sql-template-tag';
import { UNGUARDED, statement as withGuard, type Guard } from '../db/run.js';

/** Who asked, from where: the same for every row a request appends. */
export interface AuditSource {
  actor: string | null;
  roles: string[];
  route: string;
  client: string | null;
  requestId: string | null;
}

/** What happened to which record. */
export interface AuditEvent {
  action: 'read' | 'list' | 'create' | 'update' | 'delete' | 'push' | 'login_failed' | 'login_locked' | 'unlock' | 'export' | 'import';
  recordId: string | null;
  person: string | null;
  status: number;
  /** Sensitive fields the write changed (password, roles, active), for the `detail` column. */
  changed?: string[];
  /** More for the `detail` column: what an operator's command did (counts, kinds). */
  detail?: Record<string, unknown>;
}

export type AuditEntry = AuditSource & AuditEvent;

export const AUDIT_COLUMNS = 'actor, actor_roles, action, route, record_id, person, status, client, request_id, detail';

/** The `detail` column's JSON text, or null when the event carries nothing more than its action. */
export function detailOf(e: AuditEvent): string | null {
  const detail = { ...(e.changed?.length ? { changed: e.changed } : {}), ...e.detail };
  return Object.keys(detail).length ? JSON.stringify(detail) : null;
}

export function auditValues(e: AuditEntry): unknown[] {
  return [e.actor, e.roles, e.action, e.route, e.recordId, e.person, e.status, e.client, e.requestId, detailOf(e)];
}

/** `INSERT INTO audit ... SELECT <entry> WHERE <when>`, to run as a CTE of another statement. */
export function auditInsert(e: AuditEntry, when: Sql): Sql {
  const [actor, roles, action, route, recordId, person, status, client, requestId, detail] = auditValues(e);
  return sql`INSERT INTO audit (actor, actor_roles, action, route, record_id, person, status, client, request_id, detail)
    SELECT ${actor}::varchar, ${roles}::text[], ${action}::text, ${route}::text, ${recordId}::varchar, ${person}::varchar,
      ${status}::int, ${client}::text, ${requestId}::text, ${detail}::jsonb WHERE ${when}`;
}

/**
 * Wraps a data-modifying statement that has a RETURNING clause so that, when it
 * returns a row, one audit row is inserted by the same statement. The result has at
 * least one row: the guard's `guard_ok` beside the statement's columns, NULL when it
 * returned nothing. The statement must check `guard.ok` itself, in its WHERE.
 */
export function withAudit(entry: AuditEntry, statement: Sql, guard: Guard = UNGUARDED): Sql {
  return withGuard(guard, [sql`w AS (${statement})`, sql`a AS (${auditInsert(entry, sql`EXISTS (SELECT 1 FROM w)`)})`],
    sql`SELECT ${guard.ok} AS guard_ok, w.* FROM (SELECT 1) one LEFT JOIN w ON true`);
}
