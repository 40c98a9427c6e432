// Numbers and ids (issue 20, finding 15), attacked as the tester did: a number so small
// that a double reads it as 0 (or as a subnormal with fewer digits); page and document
// ids that look alike (NFC and NFD, a non-breaking space, a full-width letter) made to
// coexist; and the administrators' path to person rows made before PERSON_ID_PATTERN,
// which docs/migrating.md promises. Through the API and `thalamus import` alike.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type CallOptions } from '../helpers/http.js';
import { dumpRows } from '../helpers/rows.js';
import { runCli } from '../helpers/cli.js';

const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const PATTERN = '^[A-Za-z0-9._-]{1,128}$';
const NUMBER_ERROR = {
  error: 'The request body holds a number beyond what can be stored and read back exactly: an exponent beyond ±308, or a non-zero magnitude below 2.2250738585072014e-308 (a double reads it as 0 or loses digits)',
  code: 'NUMBER_OUT_OF_RANGE',
};
const recordIdError = (what: string) => ({ error: `A new ${what} must match ${PATTERN} (RECORD_ID_PATTERN) and stay the same under Unicode NFKC normalization`, code: 'INVALID_ID' });

let s: TestServer;
const req = (method: string, path: string, opts: CallOptions = {}) => call(s.base, method, path, opts);

async function refused(method: string, path: string, opts: CallOptions, status: number, body: unknown): Promise<void> {
  const before = await dumpRows(s.db.pool);
  const r = await req(method, path, opts);
  assert.is(r.status, status, `${method} ${path}: ${r.text.slice(0, 300)}`);
  assert.equal(r.json, body, `${method} ${path}`);
  assert.is(await dumpRows(s.db.pool), before, `${method} ${path} changed a row`);
}

/** Imports NDJSON into the test server's database; the CLI's stderr names each skipped line. */
const importLines = (lines: unknown[]) => runCli(['import'], { env: { DATABASE_URL: s.db.url }, input: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });

// ---------------------------------------------------------------------------
const numbers = suite('numbers that underflow');
numbers.before(async () => {
  s = await startServer();
  for (const as of [ANA, ROOT]) assert.is((await req('GET', '/login', { as })).status, 200);
});
numbers.after(async () => { await s.close(); });

/** 0. then 400 zeros then 1: 1e-401, which a double reads as 0. */
const TINY = `0.${'0'.repeat(400)}1`;
const UNDERFLOWS = [TINY, `-${TINY}`, '0.0001e-305', '2e-308', '2.2250738585072011e-308', `${'0'.repeat(1)}.${'0'.repeat(300)}5e-10`, '4.9e-324'];
const KEPT = ['2.2250738585072014e-308', '1e-307', '0.0', '-0.0', '0', `0.${'0'.repeat(400)}`, '0e5', '123.456e-300', `0.${'0'.repeat(300)}1`];

numbers('a non-zero number below the smallest normal double is 400 NUMBER_OUT_OF_RANGE on every write; zero and normal numbers are kept', async () => {
  let stored = 0;
  const answers: Array<{ what: string; status: number; body: unknown; unchanged: boolean }> = [];
  for (const [i, n] of UNDERFLOWS.entries()) {
    const text = `{"result": {"value": ${n}}}`;
    for (const [method, path] of [['POST', `/pols/${ANA.user}/tiny-new-${i}`], ['PATCH', `/pols/${ANA.user}/${BIRTH}`], ['POST', `/people/TINY000${i}`], ['PATCH', `/people/${ANA.user}`]] as const) {
      const before = await dumpRows(s.db.pool);
      const r = await req(method, path, { as: ROOT, raw: text });
      if (r.status < 300) { stored++; continue; }
      answers.push({ what: `${method} ${path} ${n.slice(0, 20)}`, status: r.status, body: r.json, unchanged: await dumpRows(s.db.pool) === before });
    }
  }
  console.log(`  underflow: ${stored} of ${UNDERFLOWS.length * 4} writes of a number a double cannot read back were stored`);
  assert.is(stored, 0);
  for (const a of answers) assert.equal(a, { what: a.what, status: 400, body: NUMBER_ERROR, unchanged: true });
  // In a string it is no number.
  assert.is((await req('POST', `/pols/${ANA.user}/tiny-string`, { as: ANA, raw: `{"a": "${TINY}"}` })).status, 201);
  for (const [i, n] of KEPT.entries()) {
    const r = await req('POST', `/pols/${ANA.user}/kept-${i}`, { as: ANA, raw: `{"value": ${n}}` });
    assert.is(r.status, 201, `${n}: ${r.text}`);
  }
});

numbers('import: the same numbers are bad lines, named with their number', async () => {
  const lines = UNDERFLOWS.map((n, i) => ({ kind: 'page', id: `tiny-import-${i}`, book: ANA.user, data: { value: 0 } }));
  const text = lines.map((l, i) => JSON.stringify(l).replace('"value":0', `"value":${UNDERFLOWS[i]}`)).join('\n') + '\n';
  const r = await runCli(['import'], { env: { DATABASE_URL: s.db.url }, input: text });
  for (let i = 1; i <= UNDERFLOWS.length; i++) {
    assert.match(r.stderr, `line ${i}: a number beyond what can be stored and read back exactly (an exponent beyond ±308, or a non-zero magnitude below 2.2250738585072014e-308)`);
  }
  assert.is((await s.db.pool.query(`SELECT count(*)::int AS n FROM pols WHERE id LIKE 'tiny-import-%'`)).rows[0].n, 0);
});

numbers.run();

// ---------------------------------------------------------------------------
const ids = suite('page and document ids');
ids.before(async () => {
  s = await startServer();
  for (const as of [ANA, CAMERON, ROOT]) assert.is((await req('GET', '/login', { as })).status, 200);
});
ids.after(async () => { await s.close(); });

/** Four spellings a reader cannot tell apart, and an ASCII one. */
const LOOKALIKES = ['caf\u00e9-1', 'cafe\u0301-1', 'cafe\u00a01', '\uff43afe-1'];

ids('lookalike page ids cannot be created side by side; UUIDs and the clients\' ids still can', async () => {
  let created = 0;
  for (const id of LOOKALIKES) {
    const path = `/pols/${ANA.user}/${encodeURIComponent(id)}`;
    const before = await dumpRows(s.db.pool);
    const r = await req('POST', path, { as: ANA, body: { page_type: 'medical', summary: 'lookalike' } });
    if (r.status === 201) { created++; continue; }
    assert.is(r.status, 400, `${JSON.stringify(id)}: ${r.text}`);
    assert.equal(r.json, recordIdError('page id'));
    assert.is(await dumpRows(s.db.pool), before);
  }
  console.log(`  lookalike page ids: ${created} of ${LOOKALIKES.length} created side by side`);
  assert.is(created, 0);
  for (const id of ['0b2f4a8e-9c1d-4f7a-8e3b-2d6c5a4b3e21', 'cafe-1', 'BED-1', 'numbers_page.2']) {
    assert.is((await req('POST', `/pols/${ANA.user}/${id}`, { as: ANA, body: { summary: 'ok' } })).status, 201, id);
  }
});

ids('lookalike document ids cannot be uploaded side by side', async () => {
  let created = 0;
  for (const id of LOOKALIKES) {
    const path = `/personal_docs/${ANA.user}/${BIRTH}/${encodeURIComponent(id)}`;
    const before = await dumpRows(s.db.pool);
    const r = await req('POST', path, { as: ANA, raw: Buffer.from(`doc ${id}`), headers: { 'content-type': 'text/plain' } });
    if (r.status === 201) { created++; continue; }
    assert.is(r.status, 400, `${JSON.stringify(id)}: ${r.text}`);
    assert.equal(r.json, recordIdError('document id'));
    assert.is(await dumpRows(s.db.pool), before);
  }
  console.log(`  lookalike document ids: ${created} of ${LOOKALIKES.length} uploaded side by side`);
  assert.is(created, 0);
  assert.is((await req('POST', `/personal_docs/${ANA.user}/${BIRTH}/4b1c2d3e-5f60-4718-9a2b-3c4d5e6f7a8b`, { as: ANA, raw: Buffer.from('x'), headers: { 'content-type': 'text/plain' } })).status, 201);
});

ids('pages and documents stored before the pattern stay readable and changeable by their owners, removable by root', async () => {
  await s.db.pool.query(`INSERT INTO pols (id, book, data) VALUES ('caf\u00e9 old', $1, '{"summary": "legacy"}')`, [ANA.user]);
  await s.db.pool.query(`INSERT INTO personal_docs (id, fedacct, pol, document, data) VALUES ('doc\u00a0old', $1, 'caf\u00e9 old', 'x', '{"extension": "txt"}')`, [ANA.user]);
  const page = `/pols/${ANA.user}/${encodeURIComponent('caf\u00e9 old')}`;
  const doc = `/personal_docs/${ANA.user}/${encodeURIComponent('caf\u00e9 old')}/${encodeURIComponent('doc\u00a0old')}`;
  assert.is((await req('GET', page, { as: ANA })).json.summary, 'legacy');
  assert.is((await req('PATCH', page, { as: ANA, body: { summary: 'changed' } })).status, 200);
  assert.is((await req('GET', doc, { as: ANA })).text, 'x');
  assert.is((await req('PATCH', doc, { as: ANA, body: { description: 'old scan' } })).status, 200);
  assert.is((await req('DELETE', doc, { as: ROOT })).status, 204);
  assert.is((await req('DELETE', page, { as: ROOT })).status, 204);
});

ids('import: lookalike page and document ids are bad lines', async () => {
  const lines = [
    ...LOOKALIKES.map((id) => ({ kind: 'page', id: `imp-${id}`, book: ANA.user, data: {} })),
    ...LOOKALIKES.map((id) => ({ kind: 'document', id: `imp-${id}`, fedacct: ANA.user, pol: BIRTH, data: {}, document: null })),
    { kind: 'page', id: 'imp-ascii-1', book: ANA.user, data: {} },
  ];
  const r = await importLines(lines);
  for (let i = 1; i <= 2 * LOOKALIKES.length; i++) assert.match(r.stderr, new RegExp(`line ${i}: "id" .* does not match RECORD_ID_PATTERN`));
  assert.is((await s.db.pool.query(`SELECT count(*)::int AS n FROM pols WHERE id LIKE 'imp-%'`)).rows[0].n, 1);
  assert.is((await s.db.pool.query(`SELECT count(*)::int AS n FROM personal_docs WHERE id LIKE 'imp-%'`)).rows[0].n, 0);
});

ids.run();

// ---------------------------------------------------------------------------
const legacy = suite('person rows made before PERSON_ID_PATTERN');
legacy.before(async () => {
  s = await startServer();
  for (const as of [CAMERON, ROOT]) assert.is((await req('GET', '/login', { as })).status, 200);
});
legacy.after(async () => { await s.close(); });

const PATTERN_ERROR = { error: `Person ids must match ${PATTERN} (PERSON_ID_PATTERN)`, code: 'INVALID_ID' };

legacy('an administrator reads, deactivates and removes them, their pages and documents, by the id as stored', async () => {
  const answered: string[] = [];
  for (const id of ['Jos\u00e9 Old', 'OLD ID 1', 'x'.repeat(200)]) {
    await s.db.pool.query(`INSERT INTO people (id, data) VALUES ($1, '{"name": "Legacy", "active": true}')`, [id]);
    await s.db.pool.query(`INSERT INTO pols (id, book, data) VALUES ($1, $2, '{}')`, [`page of ${id.slice(0, 20)}`, id]);
    await s.db.pool.query(`INSERT INTO personal_docs (id, fedacct, pol, document, data) VALUES ($1, $2, $3, 'x', '{}')`, [`doc of ${id.slice(0, 20)}`, id, `page of ${id.slice(0, 20)}`]);
    const p = encodeURIComponent(id);
    const pg = encodeURIComponent(`page of ${id.slice(0, 20)}`);
    const dc = encodeURIComponent(`doc of ${id.slice(0, 20)}`);
    // Nobody else; and no administrator makes new rows under such an id.
    await refused('GET', `/people/${p}`, { as: CAMERON }, 400, PATTERN_ERROR);
    await refused('POST', `/people/${p}2`, { as: ROOT, body: { name: 'New' } }, 400, PATTERN_ERROR);
    await refused('POST', `/pols/${p}/new-page`, { as: ROOT, body: {} }, 400, PATTERN_ERROR);
    const steps: Array<[string, string, unknown?]> = [
      ['GET', `/people/${p}`], ['GET', `/pols/${p}`], ['GET', `/personal_docs/${p}/${pg}/${dc}`],
      ['PATCH', `/people/${p}`, { active: false }], ['DELETE', `/personal_docs/${p}/${pg}/${dc}`], ['DELETE', `/pols/${p}/${pg}`], ['DELETE', `/people/${p}`],
    ];
    for (const [method, path, body] of steps) {
      const r = await req(method, path, { as: ROOT, body });
      answered.push(`${method} ${path.split('/')[1]} ${r.status}${r.status >= 300 ? ` ${r.json?.code}` : ''}`);
    }
  }
  const failed = answered.filter((a) => !/ 2\d\d$/.test(a));
  console.log(`  legacy person ids: ${answered.length - failed.length} of ${answered.length} administrator requests answered; refused: ${JSON.stringify(failed)}`);
  assert.equal(failed, []);
  assert.is((await s.db.pool.query(`SELECT count(*)::int AS n FROM people WHERE data->>'name' = 'Legacy'`)).rows[0].n, 0);
});

legacy.run();
