// The whole ACL matrix: the three demo accounts × every route × method × their own and
// another person's id. The expected answer is computed here from etc/roles.cfg with
// the rule of DESIGN §3, independently of lib/auth: a role must list the route's ACL
// name for the method, and the route has no person id, or it is the user's own, or
// the role is global. Denied is exactly 403; allowed is anything but 401/403 (the
// requests are chosen so an allowed write is a harmless 404 or 409).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT as PROJECT, loadConfig } from '../../lib/config.js';
import { ADMINISTER, aclAllows, loadAcl, parseAcl } from '../../lib/auth/acl.js';
import { ACL_NAMES, isAclName } from '../../lib/acl-names.js';
import { apiRoutes, type Route } from '../../lib/routes.js';
import { passwordPages } from '../../lib/pages/password.js';
import { createCsrf } from '../../lib/pages/csrf.js';
import { changesRoutes } from '../../lib/changes/handlers.js';
import { KIND_SPECS } from '../../lib/changes/kinds.js';
import { subscriptionRoutes } from '../../lib/subscriptions/handlers.js';
import { createDestinations, systemResolver } from '../../lib/subscriptions/destination.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type Account } from '../helpers/http.js';
import { dumpRows } from '../helpers/rows.js';

interface RoleEntry { role: string; permissions: Record<string, unknown> }
const ROLES: RoleEntry[] = JSON.parse(readFileSync(join(PROJECT, 'etc', 'roles.cfg'), 'utf8'));

const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const PICTURE = '5f626a20-5d86-488c-a1e2-844ccf399c72';
const NO_PAGE = 'acl-no-such-page';

interface Case {
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE';
  /** Path template; `:id` is replaced by the person id under test. */
  path: string;
  acl: string;
  body?: unknown;
}

const GET = (path: string, acl: string): Case[] => [{ method: 'GET', path, acl }, { method: 'HEAD', path, acl }];

/** Every route with an ACL name. Writes target existing ids (409) or missing ones (404). */
const CASES: Case[] = [
  ...GET('/login', 'login'),
  ...GET('/people', 'people'),
  ...GET('/people/:id', 'person'),
  { method: 'POST', path: '/people/:id', acl: 'person', body: { name: 'exists already' } },
  { method: 'PATCH', path: '/people/:id', acl: 'person', body: {} },
  { method: 'DELETE', path: '/people/:id', acl: 'person' },
  ...GET('/pols/:id', 'book'),
  ...GET(`/pols/:id/${BIRTH}`, 'page'),
  { method: 'POST', path: `/pols/:id/${BIRTH}`, acl: 'page', body: { summary: 'exists already' } },
  { method: 'PATCH', path: `/pols/:id/${NO_PAGE}`, acl: 'page', body: { summary: 'no such page' } },
  { method: 'DELETE', path: `/pols/:id/${NO_PAGE}`, acl: 'page' },
  ...GET('/personal_docs/:id', 'personaldocs'),
  ...GET(`/personal_docs/:id/${BIRTH}`, 'poldocs'),
  ...GET(`/personal_docs/:id/${BIRTH}/${PICTURE}`, 'document'),
  // An upload without a Content-Type is a 415 once allowed: nothing is read or stored.
  { method: 'POST', path: `/personal_docs/:id/${BIRTH}/${PICTURE}`, acl: 'document', body: { name: 'no content type' } },
  { method: 'PATCH', path: `/personal_docs/:id/${BIRTH}/acl-no-such-doc`, acl: 'document', body: { description: 'no such document' } },
  { method: 'DELETE', path: `/personal_docs/:id/${BIRTH}/acl-no-such-doc`, acl: 'document' },
  ...GET('/domiciliary-units', 'domiciliaryunits'),
  ...GET('/domiciliary-units/ESPGNUDU001', 'domiciliaryunit'),
  { method: 'POST', path: '/domiciliary-units/ESPGNUDU001', acl: 'domiciliaryunit', body: { name: 'exists already' } },
  { method: 'PATCH', path: '/domiciliary-units/acl-no-such-du', acl: 'domiciliaryunit', body: { name: 'no such unit' } },
  ...GET('/institutions', 'institutions'),
  ...GET('/institutions/ITMIGH001', 'institution'),
  { method: 'POST', path: '/institutions/ITMIGH001', acl: 'institution', body: { name: 'exists already' } },
  { method: 'PATCH', path: '/institutions/acl-no-such-inst', acl: 'institution', body: { name: 'no such institution' } },
  // HEAD only: root's GET would receive the password hashes an export carries.
  { method: 'HEAD', path: '/export', acl: 'export' },
];

const truthy = (v: unknown) => v === true || v === 'True' || v === 'true';

/** DESIGN §3, written out from the roles file itself. */
function expectAllowed(roles: string[], c: Case, target: string | undefined, self: string): boolean {
  const method = c.method === 'HEAD' ? 'GET' : c.method;
  return ROLES.some((r) => roles.includes(r.role)
    && Array.isArray(r.permissions[method]) && (r.permissions[method] as string[]).includes(c.acl)
    && (target === undefined || target === self || truthy(r.permissions.global)));
}

const ACCOUNTS: Array<{ name: string; account: Account; other: string }> = [
  { name: 'Ana (end_user)', account: ANA, other: CAMERON.user },
  { name: 'Cameron (end_user, health_professional)', account: CAMERON, other: ANA.user },
  { name: 'Root (root)', account: ROOT, other: ANA.user },
];

const t = suite('acl');
let s: TestServer;
let before = '';
const roles = new Map<string, string[]>();

t.before(async () => {
  s = await startServer();
  for (const { account } of ACCOUNTS) {
    const { rows } = await s.db.pool.query<{ roles: string[] }>(`SELECT data->'roles' AS roles FROM people WHERE id = $1`, [account.user]);
    roles.set(account.user, rows[0]!.roles);
    assert.is((await call(s.base, 'GET', '/login', { as: account })).status, 200);
  }
  before = await dumpRows(s.db.pool);
});
t.after(async () => { await s.close(); });

t('the demo accounts hold the roles the matrix is about', () => {
  assert.equal(roles.get(ANA.user), ['end_user']);
  assert.equal(roles.get(CAMERON.user), ['end_user', 'health_professional']);
  assert.equal(roles.get(ROOT.user), ['root']);
});

t('etc/roles.cfg parses, and grants what DESIGN and issue 2 promise', () => {
  const acl = parseAcl(ROLES);
  assert.equal([...acl.keys()], ['end_user', 'health_professional', 'root']);
  const grants = (role: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', name: string) => acl.get(role)!.methods[method].has(name);
  for (const name of ['personaldocs', 'poldocs', 'document']) assert.ok(grants('end_user', 'GET', name), `end users read their own ${name}`);
  for (const name of ['people', 'person', 'book', 'page', 'personaldocs', 'poldocs', 'document', 'domiciliaryunits', 'domiciliaryunit', 'institutions', 'institution']) {
    assert.ok(grants('health_professional', 'GET', name), `professionals read ${name}`);
    assert.ok(grants('root', 'GET', name), `root reads ${name}`);
  }
  for (const m of ['POST', 'PATCH'] as const) for (const name of ['person', 'page', 'document']) assert.ok(grants('health_professional', m, name));
  // Uploads: end users to their own pages, professionals (global) to any, removal by root only.
  for (const m of ['POST', 'PATCH'] as const) assert.ok(grants('end_user', m, 'document'));
  assert.ok(grants('root', 'DELETE', 'document'));
  assert.not.ok(grants('end_user', 'DELETE', 'document') || grants('health_professional', 'DELETE', 'document'));
  assert.not.ok(acl.get('end_user')!.global);
  assert.ok(acl.get('health_professional')!.global);
  assert.ok(acl.get('root')!.global);
});

t('an upstream roles file is accepted: "True"/"False" strings, booleans, missing methods', () => {
  const acl = parseAcl([
    { role: 'a', permissions: { GET: ['login'], global: 'True' } },
    { role: 'b', permissions: { GET: [], POST: ['person'], PATCH: [], DELETE: [], global: 'False' } },
    { role: 'c', permissions: { global: true } },
    { role: 'd', permissions: { global: false } },
  ]);
  assert.equal([...acl.values()].map((p) => p.global), [true, false, true, false]);
  assert.ok(acl.get('b')!.methods.POST.has('person'));
  assert.is(acl.get('a')!.methods.DELETE.size, 0);
  assert.throws(() => parseAcl([{ role: 'x', permissions: { global: 'maybe' } }]), /global/);
  assert.throws(() => parseAcl({ role: 'x' }), /JSON list/);
});

t('the expected answers follow DESIGN §3 (spot checks of the oracle)', () => {
  const find = (method: string, path: string) => CASES.find((c) => c.method === method && c.path === path)!;
  const ana = roles.get(ANA.user)!;
  const cameron = roles.get(CAMERON.user)!;
  const root = roles.get(ROOT.user)!;
  assert.ok(expectAllowed(ana, find('GET', '/people/:id'), ANA.user, ANA.user), 'own person');
  assert.not.ok(expectAllowed(ana, find('GET', '/people/:id'), CAMERON.user, ANA.user), 'another person, not global');
  assert.not.ok(expectAllowed(ana, find('GET', '/people'), undefined, ANA.user), 'no "people" for end users');
  assert.ok(expectAllowed(ana, find('HEAD', `/personal_docs/:id/${BIRTH}/${PICTURE}`), ANA.user, ANA.user), 'HEAD as GET');
  assert.ok(expectAllowed(cameron, find('GET', '/people/:id'), ANA.user, CAMERON.user), 'global role');
  assert.not.ok(expectAllowed(cameron, find('DELETE', '/people/:id'), CAMERON.user, CAMERON.user), 'no DELETE for professionals');
  assert.ok(expectAllowed(root, find('DELETE', '/people/:id'), ANA.user, ROOT.user));
  let allowed = 0;
  let denied = 0;
  for (const { account, other } of ACCOUNTS) {
    for (const c of CASES) {
      for (const target of c.path.includes(':id') ? [account.user, other] : [undefined]) {
        if (expectAllowed(roles.get(account.user)!, c, target, account.user)) allowed++; else denied++;
      }
    }
  }
  // Ana 19 allowed / 40 denied, Cameron 48 / 11, Root 59 / 0.
  assert.equal([allowed, denied], [126, 51]);
});

for (const { name, account, other } of ACCOUNTS) {
  for (const c of CASES) {
    const targets: Array<string | undefined> = c.path.includes(':id') ? [account.user, other] : [undefined];
    t(`${name}: ${c.method} ${c.path}`, async () => {
      for (const target of targets) {
        const path = target === undefined ? c.path : c.path.replace(':id', target);
        const allowed = expectAllowed(roles.get(account.user)!, c, target, account.user);
        const r = await call(s.base, c.method, path, { as: account, body: c.body });
        const label = `${account.user} ${c.method} ${path}: expected ${allowed ? 'allowed' : '403'}, got ${r.status} ${r.text}`;
        if (allowed) {
          assert.ok(r.status !== 401 && r.status !== 403 && r.status < 500, label);
        } else {
          assert.is(r.status, 403, label);
          if (c.method !== 'HEAD') assert.equal(r.json, { error: 'Your roles do not allow this request', code: 'FORBIDDEN' });
        }
      }
    });
  }
}

t('without credentials every route of the matrix is 401', async () => {
  for (const c of CASES) {
    const r = await call(s.base, c.method, c.path.replace(':id', ANA.user), { body: c.body });
    assert.is(r.status, 401, `${c.method} ${c.path}`);
  }
});

t('the matrix changed no row', async () => {
  assert.is(await dumpRows(s.db.pool), before);
});

t.run();

// The catalogue of ACL names (lib/acl-names.ts), as lib/http/errors.ts is of errors.
const names = suite('acl names');

/** Every route the server registers, as openapi.test.ts builds them. */
function allRoutes(): Route[] {
  return [
    ...apiRoutes(passwordPages(createCsrf('a secret of the test, long enough')), loadConfig(undefined, {})),
    ...changesRoutes({ pool: undefined as never, reads: undefined as never, hub: undefined as never, settings: undefined as never }),
    ...subscriptionRoutes({ allowHttp: false, maxPerOwner: 20, destinations: createDestinations({ allowHosts: [], resolve: systemResolver }), wake: () => undefined }),
  ];
}

names('every name a route or a rule checks is in the catalogue, and every name of the catalogue is checked somewhere', () => {
  const used = new Set<string>([ADMINISTER]);
  for (const r of allRoutes()) if (r.acl !== null) used.add(r.acl);
  for (const spec of Object.values(KIND_SPECS)) { used.add(spec.all); if (spec.own) used.add(spec.own); }
  assert.equal([...used].filter((n) => !isAclName(n)), [], 'names not in the catalogue');
  assert.equal(Object.keys(ACL_NAMES).filter((n) => !used.has(n)), [], 'names of the catalogue nothing checks');
  // The matrix above covers each route's name.
  for (const c of CASES) assert.ok(isAclName(c.acl), c.acl);
});

names('the shipped etc/roles.cfg and a file with upstream\'s names and shape grant nothing unknown', () => {
  const problems: string[] = [];
  loadAcl(join(PROJECT, 'etc', 'roles.cfg'), problems);
  parseAcl([
    { role: 'end_user', permissions: { GET: ['login', 'person', 'book', 'page', 'password'], POST: ['page', 'password'], PATCH: ['person', 'page'], DELETE: [], global: 'False' } },
    { role: 'health_professional', permissions: { GET: ['login', 'people', 'person', 'book', 'page'], POST: ['person', 'page'], PATCH: ['person', 'page'], DELETE: [], global: 'True' } },
    { role: 'root', permissions: { GET: ['login', 'people', 'person', 'book', 'page', 'password'], POST: ['person', 'page', 'password'], PATCH: ['person', 'page'], DELETE: ['person', 'page'], global: 'True' } },
  ], 'upstream-roles.cfg', problems);
  assert.equal(problems, []);
});

names('an unknown method or ACL name is reported with the file, the role and the name; it still loads, granting nothing', () => {
  const problems: string[] = [];
  const acl = parseAcl([
    { role: 'node', permissions: { GET: ['login', 'pepole'], PUT: ['person'], global: 'True' } },
    { role: 'clerk', permissions: { GET: ['person'], POST: ['Person'], get: ['book'], global: 'False' } },
  ], '/etc/thalamus/roles.cfg', problems);
  assert.equal(problems, [
    '/etc/thalamus/roles.cfg: role "node": unknown method "PUT" (roles.cfg lists names under GET, POST, PATCH, DELETE)',
    '/etc/thalamus/roles.cfg: role "node": GET names an unknown ACL name "pepole"',
    '/etc/thalamus/roles.cfg: role "clerk": unknown method "get" (roles.cfg lists names under GET, POST, PATCH, DELETE)',
    '/etc/thalamus/roles.cfg: role "clerk": POST names an unknown ACL name "Person"',
  ]);
  assert.equal([...acl.keys()], ['node', 'clerk']);
  assert.not.ok(aclAllows(acl, ['node'], 'GET', 'people', undefined, 'X'), 'a misspelt name grants nothing');
});

names.run();
