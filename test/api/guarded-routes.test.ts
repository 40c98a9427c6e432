// The guard cannot be forgotten (issue 21, item 3): every route marked `guarded: true`
// (the API's, the change feed's and the subscriptions', as the worker serves them) is
// answered in one round trip once its principal was verified, and when the password is
// revoked between two requests the second one is 401 and changes nothing. The routes
// are enumerated from the worker, so a new guarded route fails here until it has a
// sample request below.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ROOT, ANA } from '../helpers/http.js';
import { dumpRows } from '../helpers/rows.js';

interface Sample {
  path: string;
  body?: unknown;
  raw?: Buffer;
  headers?: Record<string, string>;
  /** SQL run before the request (what a DELETE removes). */
  setup?: [string, unknown[]];
}

const PAGE = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const DOC = '5f626a20-5d86-488c-a1e2-844ccf399c72';
const PERSON = ANA.user;
const newPerson = (id: string): [string, unknown[]] => [`INSERT INTO people (id, data) VALUES ($1::text, jsonb_build_object('id', $1::text, 'active', false))`, [id]];

/** A request of each guarded route that succeeds as root; `n` makes the ids it creates or removes fresh. */
const SAMPLES: Record<string, (n: number) => Sample> = {
  'GET /people': () => ({ path: '/people' }),
  'GET /people/:id': () => ({ path: `/people/${PERSON}` }),
  'POST /people/:id': (n) => ({ path: `/people/GUARDNEW${n}`, body: { name: 'New' } }),
  'PATCH /people/:id': (n) => ({ path: `/people/${PERSON}`, body: { note: `guarded ${n}` } }),
  'DELETE /people/:id': (n) => ({ path: `/people/GUARDGONE${n}`, setup: newPerson(`GUARDGONE${n}`) }),
  'GET /pols/:id': () => ({ path: `/pols/${PERSON}` }),
  'GET /pols/:id/:page': () => ({ path: `/pols/${PERSON}/${PAGE}` }),
  'POST /pols/:id/:page': (n) => ({ path: `/pols/${PERSON}/guard-page-${n}`, body: { summary: 'new' } }),
  'PATCH /pols/:id/:page': (n) => ({ path: `/pols/${PERSON}/${PAGE}`, body: { summary: `guarded ${n}` } }),
  'DELETE /pols/:id/:page': (n) => ({
    path: `/pols/${PERSON}/guard-gone-${n}`,
    setup: [`INSERT INTO pols (id, book, data) VALUES ($1::text, $2::text, jsonb_build_object('id', $1::text, 'book', $2::text))`, [`guard-gone-${n}`, PERSON]],
  }),
  'GET /personal_docs/:id': () => ({ path: `/personal_docs/${PERSON}` }),
  'GET /personal_docs/:id/:page': () => ({ path: `/personal_docs/${PERSON}/${PAGE}` }),
  'GET /personal_docs/:id/:page/:doc': () => ({ path: `/personal_docs/${PERSON}/${PAGE}/${DOC}` }),
  'POST /personal_docs/:id/:page/:doc': (n) => ({ path: `/personal_docs/${PERSON}/${PAGE}/guard-doc-${n}`, raw: Buffer.from(`bytes ${n}`), headers: { 'content-type': 'text/plain' } }),
  'PATCH /personal_docs/:id/:page/:doc': (n) => ({ path: `/personal_docs/${PERSON}/${PAGE}/${DOC}`, body: { description: `guarded ${n}` } }),
  'DELETE /personal_docs/:id/:page/:doc': (n) => ({
    path: `/personal_docs/${PERSON}/${PAGE}/guard-doc-gone-${n}`,
    setup: [`INSERT INTO personal_docs (id, fedacct, pol, document, data) VALUES ($1::text, $2, $3, '\\x00', jsonb_build_object('id', $1::text))`, [`guard-doc-gone-${n}`, PERSON, PAGE]],
  }),
  'GET /domiciliary-units': () => ({ path: '/domiciliary-units' }),
  'GET /domiciliary-units/:record': () => ({ path: '/domiciliary-units/ESPGNUDU001' }),
  'POST /domiciliary-units/:record': (n) => ({ path: `/domiciliary-units/GUARD-DU-${n}`, body: { name: 'New' } }),
  'PATCH /domiciliary-units/:record': (n) => ({ path: '/domiciliary-units/ESPGNUDU001', body: { note: `guarded ${n}` } }),
  'GET /institutions': () => ({ path: '/institutions' }),
  'GET /institutions/:record': () => ({ path: '/institutions/ITMIGH001' }),
  'POST /institutions/:record': (n) => ({ path: `/institutions/GUARD-INST-${n}`, body: { name: 'New' } }),
  'PATCH /institutions/:record': (n) => ({ path: '/institutions/ITMIGH001', body: { note: `guarded ${n}` } }),
  'GET /audit': () => ({ path: '/audit' }),
};

const t = suite('guarded routes');
let s: TestServer;
// Each revoked request is a failed login of root from this address: more than the lockout's defaults.
t.before(async () => { s = await startServer({ lockoutPairFailures: 10_000, lockoutAccountFailures: 10_000, lockoutAddressFailures: 10_000 }); });
t.after(async () => { await s.close(); });

const guarded = () => s.worker.services.routes.filter((r) => r.guarded).map((r) => `${r.method} ${r.path}`);

t('every guarded route the worker serves has a sample request', () => {
  const routes = guarded();
  assert.ok(routes.length >= 20, `${routes.length} guarded routes`);
  assert.equal(routes.filter((r) => !SAMPLES[r]), [], 'guarded routes without a sample: add one to SAMPLES');
  assert.equal(Object.keys(SAMPLES).filter((k) => !routes.includes(k)), [], 'samples of routes that are not guarded (or gone)');
});

t('each guarded route: one round trip for root verified before; its password revoked, the next request is 401 and changes nothing', async () => {
  const pool = s.db.pool;
  const hashOf = async () => (await pool.query<{ h: string }>(`SELECT data->>'password' AS h FROM people WHERE id = $1`, [ROOT.user])).rows[0]!.h;
  // The first login upgrades the demo's bcrypt hash; the one kept is the upgraded one.
  assert.is((await call(s.base, 'GET', '/login', { as: ROOT })).status, 200);
  const hash = await hashOf();
  const paths = s.worker.services.paths;
  let n = 0;
  const send = async (key: string) => {
    const method = key.split(' ')[0]!;
    const sample = SAMPLES[key]!(++n);
    if (sample.setup) await pool.query(sample.setup[0], sample.setup[1]);
    return call(s.base, method, sample.path, { as: ROOT, body: sample.body, raw: sample.raw, headers: sample.headers });
  };
  for (const key of guarded()) {
    assert.is((await call(s.base, 'GET', '/login', { as: ROOT })).status, 200, `${key}: root verified`);
    const before = { ...paths };
    const ok = await send(key);
    assert.ok(ok.status >= 200 && ok.status < 300, `${key}: ${ok.status} ${ok.text.slice(0, 200)}`);
    assert.equal([paths.oneRoundTrip - before.oneRoundTrip, paths.guardFailed - before.guardFailed], [1, 0], `${key}: answered in one round trip`);

    assert.is((await call(s.base, 'GET', '/login', { as: ROOT })).status, 200, `${key}: root verified again`);
    await pool.query(`UPDATE people SET data = jsonb_set(data, '{password}', to_jsonb('$2b$10$' || repeat('r', 53))) WHERE id = $1`, [ROOT.user]);
    try {
      const sample = SAMPLES[key]!(n + 1);
      if (sample.setup) await pool.query(sample.setup[0], sample.setup[1]);
      const rows = await dumpRows(pool);
      const revoked = { ...paths };
      n++;
      const r = await call(s.base, key.split(' ')[0]!, sample.path, { as: ROOT, body: sample.body, raw: sample.raw, headers: sample.headers });
      assert.is(r.status, 401, `${key}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.is(r.json.code, 'UNAUTHENTICATED', key);
      assert.is(paths.guardFailed - revoked.guardFailed, 1, `${key}: the guard failed`);
      assert.is(await dumpRows(pool), rows, `${key}: no row changed`);
    } finally {
      await pool.query(`UPDATE people SET data = jsonb_set(data, '{password}', to_jsonb($2::text)) WHERE id = $1`, [ROOT.user, hash]);
    }
  }
  console.log(`  [guarded routes] ${guarded().length} routes: one round trip, then 401 with nothing changed once the password was revoked`);
});

t.run();
