// Which requests the audit trail records after they end: every request for a health
// record (people, pages of life, documents, domiciliary units, institutions, and the
// change feed, which names them and may carry them with include_docs) except
// the writes that succeeded, whose row was written by the write's own statement, and
// except 401s (a failed login's row is written with the failure, lockout.ts). A 429 on
// any route is a refused login. An export of the federation is audited like a read.
import type { AuditEvent } from './entry.js';

const HEALTH_RECORD = /^\/(people|pols|personal_docs|domiciliary-units|institutions|changes)(\/|$)/;

const WRITES: Record<string, AuditEvent['action']> = { POST: 'create', PATCH: 'update', PUT: 'update', DELETE: 'delete' };

/** The audit event for a finished request, or undefined when it needs none here. */
export function auditEvent(method: string | undefined, route: string | undefined, params: Record<string, string> | undefined, status: number): AuditEvent | undefined {
  if (status === 429) return { action: 'login_locked', recordId: null, person: null, status };
  if (route === '/export' && status !== 401) return { action: 'export', recordId: null, person: null, status };
  if (!route || !HEALTH_RECORD.test(route) || status === 401) return undefined;
  const write = WRITES[method ?? ''];
  if (write && status >= 200 && status < 300) return undefined;
  const p = params ?? {};
  const recordId = p.doc ?? p.page ?? p.pol ?? p.du ?? p.inst ?? p.id ?? null;
  const person = route.startsWith('/domiciliary-units') || route.startsWith('/institutions') ? null : p.id ?? null;
  const action = write ?? (route.split('/').length === 2 ? 'list' : 'read');
  return { action, recordId, person, status };
}
