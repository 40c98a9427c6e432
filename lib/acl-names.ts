// The catalogue of ACL names, as lib/http/errors.ts is of errors: every name a route or
// a rule checks in roles.cfg, each with what it grants. Routes, kinds and rules are
// typed with AclName, so a name not in this table does not compile; a roles file naming
// one that is not here grants nothing, and `thalamus config check` refuses it (a start
// warns): a typo in roles.cfg is found before a user is refused. A leaf of lib/ (it
// imports nothing), so every layer may name ACL names, the kinds below lib/auth too.

/** What each name grants, under the methods roles.cfg lists it for. */
export const ACL_NAMES = {
  login: 'GET /login: check a login',
  people: 'GET /people: list every person; with a global role, follow every person\'s changes',
  person: '/people/:id: read, create, change, remove a person (another\'s with a global role)',
  book: 'GET /pols/:id: list a person\'s pages; follow their changes',
  page: '/pols/:id/:page: read, create, change, remove a page',
  personaldocs: 'GET /personal_docs/:id: list a person\'s documents; follow their changes',
  poldocs: 'GET /personal_docs/:id/:page: list a page\'s documents',
  document: '/personal_docs/:id/:page/:doc: read, upload, change the metadata of, remove a document',
  domiciliaryunits: 'GET /domiciliary-units: list them; with a global role, follow their changes',
  domiciliaryunit: '/domiciliary-units/:record: read, create, change one',
  institutions: 'GET /institutions: list them; with a global role, follow their changes',
  institution: '/institutions/:record: read, create, change one',
  password: '/password/:id: the password form (GET) and changing a password with it (POST)',
  audit: 'GET /audit: read the audit trail',
  export: 'GET /export: the whole federation as NDJSON, password hashes included',
  changes: 'GET /changes: the change feed (what it shows: the listing names above)',
  subscriptions: '/subscriptions: push delivery of changes (global: every account\'s, with account administration)',
  roles: 'account administration under POST or PATCH: roles, `active`, others\' passwords, pre-made hashes',
} as const;

export type AclName = keyof typeof ACL_NAMES;

/** The methods a role's permissions list names under; `global` is its flag. */
export const ACL_METHODS = ['GET', 'POST', 'PATCH', 'DELETE'] as const;

export function isAclName(name: string): name is AclName {
  return Object.hasOwn(ACL_NAMES, name);
}
