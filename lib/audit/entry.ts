// One audit row, and the SQL that appends it inside another statement: a write and
// its audit row are one statement, so neither lands without the other.

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
  action: 'read' | 'list' | 'create' | 'update' | 'delete' | 'login_failed' | 'login_locked';
  recordId: string | null;
  person: string | null;
  status: number;
}

export type AuditEntry = AuditSource & AuditEvent;

export const AUDIT_COLUMNS = 'actor, actor_roles, action, route, record_id, person, status, client, request_id';
const CASTS = ['varchar', 'text[]', 'text', 'text', 'varchar', 'varchar', 'int', 'text', 'text'];

export function auditValues(e: AuditEntry): unknown[] {
  return [e.actor, e.roles, e.action, e.route, e.recordId, e.person, e.status, e.client, e.requestId];
}

/** Typed placeholders for one row's values, numbered from `first`. */
export function auditPlaceholders(first: number): string {
  return CASTS.map((cast, i) => `$${first + i}::${cast}`).join(', ');
}

/**
 * Wraps a data-modifying statement that has a RETURNING clause so that, when it
 * returns a row, one audit row is inserted by the same statement. The result is the
 * wrapped statement's rows.
 */
export function withAudit(entry: AuditEntry, sql: string, args: unknown[]): [string, unknown[]] {
  return [
    `WITH w AS (${sql}), a AS (INSERT INTO audit (${AUDIT_COLUMNS}) SELECT ${auditPlaceholders(args.length + 1)} WHERE EXISTS (SELECT 1 FROM w))
     SELECT * FROM w`,
    [...args, ...auditValues(entry)],
  ];
}
