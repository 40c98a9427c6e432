// The roles file (upstream's etc/roles.cfg): a JSON list of
// {"role", "permissions": {"GET": [...], "POST": [...], "PATCH": [...], "DELETE": [...], "global": "True"}}.
import { readFileSync } from 'node:fs';
import { ACL_METHODS, isAclName, type AclName } from '../acl-names.js';

export type Method = typeof ACL_METHODS[number];
const METHODS: readonly Method[] = ACL_METHODS;

export interface RolePermissions { methods: Record<Method, Set<string>>; global: boolean }
export type Acl = Map<string, RolePermissions>;

export class AclError extends Error {}

function isGlobal(value: unknown, where: string): boolean {
  if (value === undefined || value === false || value === 'False' || value === 'false') return false;
  if (value === true || value === 'True' || value === 'true') return true;
  throw new AclError(`${where}: "global" must be "True", "False" or a boolean`);
}

/**
 * What in a role's permissions grants nothing: a key other than the methods and
 * `global`, or a name no route checks (lib/acl-names.ts). Each names the file,
 * the role and the name.
 */
function unknownGrants(perms: Record<string, unknown>, where: string): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(perms)) {
    if (key !== 'global' && !(METHODS as readonly string[]).includes(key)) problems.push(`${where}: unknown method ${JSON.stringify(key)} (roles.cfg lists names under ${METHODS.join(', ')})`);
  }
  for (const m of METHODS) {
    for (const name of (perms[m] ?? []) as string[]) if (!isAclName(name)) problems.push(`${where}: ${m} names an unknown ACL name ${JSON.stringify(name)}`);
  }
  return problems;
}

/**
 * Validates and indexes the parsed roles file. What grants nothing (an unknown method
 * or ACL name) is not an error here, so upstream's files and older ones keep loading:
 * it is pushed to `problems` when given (`thalamus config check` refuses it, a start
 * logs it).
 */
export function parseAcl(value: unknown, file = 'roles.cfg', problems?: string[]): Acl {
  if (!Array.isArray(value)) throw new AclError(`${file}: expected a JSON list of roles`);
  const acl: Acl = new Map();
  value.forEach((entry, i) => {
    const where = `${file}: entry ${i + 1}`;
    if (!entry || typeof entry !== 'object' || typeof entry.role !== 'string') throw new AclError(`${where}: expected {"role": ..., "permissions": {...}}`);
    const perms = entry.permissions ?? {};
    if (typeof perms !== 'object') throw new AclError(`${where}: "permissions" must be an object`);
    const methods = {} as Record<Method, Set<string>>;
    for (const m of METHODS) {
      const names = perms[m] ?? [];
      if (!Array.isArray(names) || names.some((n: unknown) => typeof n !== 'string')) throw new AclError(`${where}: "${m}" must be a list of names`);
      methods[m] = new Set(names);
    }
    acl.set(entry.role, { methods, global: isGlobal(perms.global, `${where} (${entry.role})`) });
    problems?.push(...unknownGrants(perms, `${file}: role ${JSON.stringify(entry.role)}`));
  });
  return acl;
}

/** ` (line L, column C)` where JSON.parse's message gives a position, so an operator finds it; else ''. */
function jsonErrorLine(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m) return '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
}

/** Reads and parses the roles file; what grants nothing goes to `problems` when given (parseAcl). */
export function loadAcl(file: string, problems?: string[]): Acl {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AclError(`cannot read the roles file ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AclError(`${file}: not valid JSON${jsonErrorLine(text, (err as Error).message)}: ${(err as Error).message}`);
  }
  return parseAcl(value, file, problems);
}

/**
 * Whether `roles` allow `method` on `name` for a route about `personId` (if any): one
 * role must list the name for the method and, for another person's id, be global. The
 * grant says whether such a role is global, the rule later checks take from it.
 */
export function aclGrant(acl: Acl, roles: readonly string[], method: Method, name: string, personId: string | undefined, self: string): { global: boolean } | undefined {
  let allowed = false;
  for (const role of roles) {
    const perms = acl.get(role);
    if (!perms || !perms.methods[method].has(name)) continue;
    if (perms.global) return { global: true };
    if (personId === undefined || personId === self) allowed = true;
  }
  return allowed ? { global: false } : undefined;
}

export function aclAllows(acl: Acl, roles: readonly string[], method: Method, name: string, personId: string | undefined, self: string): boolean {
  return aclGrant(acl, roles, method, name, personId, self) !== undefined;
}

/**
 * Whether holders of `roles` may grant `role`: every right it gives (a name under a
 * method, globally or not) must be one they hold already, so no one hands out more
 * power than they have. A role the file does not define gives no rights.
 */
export function canGrant(acl: Acl, roles: readonly string[], role: string): boolean {
  const wanted = acl.get(role);
  if (!wanted) return true;
  return METHODS.every((m) => [...wanted.methods[m]].every((name) => roles.some((r) => {
    const held = acl.get(r);
    return held !== undefined && held.methods[m].has(name) && (held.global || !wanted.global);
  })));
}

/** What the request's grant lets a resource decide: the rules about accounts (DESIGN §3). */
export interface Authority {
  /** The role that allowed the request is global. */
  global: boolean;
  /** May change roles, `active` and passwords of this route's person: ACL name `roles` for the method. */
  administer: boolean;
  /** May grant `role` (holds every right it gives). */
  mayGrant(role: string): boolean;
  /** The grant of another ACL name, as aclGrant answers it (the change feed asks per kind of record). */
  grantFor(method: Method, name: AclName, personId?: string): { global: boolean } | undefined;
}

/** The ACL name of account administration (roles, `active`, others' passwords, pre-made hashes). */
export const ADMINISTER: AclName = 'roles';

export function authorityOf(acl: Acl, roles: readonly string[], method: Method, grant: { global: boolean }, personId: string | undefined, self: string): Authority {
  return {
    global: grant.global,
    // A form shown by GET changes things by POST: it is offered to those who may post it.
    administer: aclAllows(acl, roles, method === 'GET' ? 'POST' : method, ADMINISTER, personId, self),
    mayGrant: (role) => canGrant(acl, roles, role),
    grantFor: (m, name, person) => aclGrant(acl, roles, m, name, person, self),
  };
}

/** No rights at all (public routes). */
export const NO_AUTHORITY: Authority = { global: false, administer: false, mayGrant: () => false, grantFor: () => undefined };
