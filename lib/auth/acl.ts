// The roles file (upstream's etc/roles.cfg): a JSON list of
// {"role", "permissions": {"GET": [...], "POST": [...], "PATCH": [...], "DELETE": [...], "global": "True"}}.
import { readFileSync } from 'node:fs';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const METHODS: Method[] = ['GET', 'POST', 'PATCH', 'DELETE'];

export interface RolePermissions { methods: Record<Method, Set<string>>; global: boolean }
export type Acl = Map<string, RolePermissions>;

export class AclError extends Error {}

function isGlobal(value: unknown, where: string): boolean {
  if (value === undefined || value === false || value === 'False' || value === 'false') return false;
  if (value === true || value === 'True' || value === 'true') return true;
  throw new AclError(`${where}: "global" must be "True", "False" or a boolean`);
}

/** Validates and indexes the parsed roles file. */
export function parseAcl(value: unknown, file = 'roles.cfg'): Acl {
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
  });
  return acl;
}

export function loadAcl(file: string): Acl {
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
    throw new AclError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseAcl(value, file);
}

/** Whether any of `roles` grants `name` for `method` on a route about `personId` (if any). */
export function aclAllows(acl: Acl, roles: readonly string[], method: Method, name: string, personId: string | undefined, self: string): boolean {
  return roles.some((role) => {
    const perms = acl.get(role);
    if (!perms || !perms.methods[method].has(name)) return false;
    return personId === undefined || personId === self || perms.global;
  });
}

/** Whether any of `roles` is global. */
export function isGlobalRole(acl: Acl, roles: readonly string[]): boolean {
  return roles.some((role) => acl.get(role)?.global === true);
}
