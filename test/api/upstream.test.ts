// Start-up against a database made by upstream Thalamus: its federation_schema.sql and
// rows inserted as its demo import does (jsonb documents, bcrypt `$2b$` passwords). The
// migrations must succeed twice and change no row; the server must then serve those rows
// and log those people in.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import bcrypt from 'bcrypt';
import { createDatabase, type TestDatabase } from '../helpers/server.js';
import { call, type Account } from '../helpers/http.js';
import { dumpRows, storedData } from '../helpers/rows.js';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { migrate, migrationFiles } from '../../lib/db/migrate.js';
import { startHttpServer, type HttpServer } from '../../server/http-server.js';
import { prepareDatabase } from '../../server/database.js';

/** Upstream's federation_schema.sql: the five tables, without IF NOT EXISTS. */
const UPSTREAM_SCHEMA = `
CREATE TABLE people (
    id varchar PRIMARY KEY,
    data jsonb
);
CREATE TABLE pols (
    id varchar PRIMARY KEY,
    book varchar REFERENCES people(id),
    data jsonb
);
CREATE TABLE personal_docs (
    id varchar PRIMARY KEY,
    fedacct varchar REFERENCES people(id),
    pol varchar REFERENCES pols(id),
    document bytea,
    data jsonb
);
CREATE TABLE dus (
    id varchar PRIMARY KEY,
    data jsonb
);
CREATE TABLE institutions (
    id varchar PRIMARY KEY,
    data jsonb
);
`;

const LUCIA: Account = { user: 'ITMIL123LUC', password: 'lucia-upstream' };
const MARCO: Account = { user: 'ITMIL456MAR', password: 'marco-upstream' };
const PAGE = 'b0a0c1d2-0000-4000-8000-000000000001';
const DOC = 'd0c0c1d2-0000-4000-8000-000000000002';
const DOC_BYTES = Buffer.from('%PDF-1.4\n% upstream test document\n');

const people: Array<Record<string, unknown>> = [
  { id: LUCIA.user, name: 'Lucia', lastname: 'Rossi', dob: '1979-02-11', gender: 'f', active: true, roles: ['end_user'], password: LUCIA.password },
  { id: MARCO.user, name: 'Marco', lastname: 'Bianchi', active: true, roles: ['end_user', 'health_professional'], password: MARCO.password },
  // Registered by an HMIS node: no password, no roles, no active flag.
  { id: 'ITMIL789GIU', name: 'Giulia', lastname: 'Verdi', dob: '2001-07-30' },
];

const t = suite('upstream');
let db: TestDatabase;
let worker: HttpServer | undefined;
let base = '';

t.before(async () => {
  db = await createDatabase('thalamus_up');
  await db.pool.query(UPSTREAM_SCHEMA);
  // As upstream's demo import: one INSERT per row, the document as json.dumps() text, bcrypt passwords.
  for (const p of people) {
    const data = { ...p };
    if (typeof data.password === 'string') data.password = await bcrypt.hash(data.password, 4);
    await db.pool.query('INSERT INTO people (id, data) VALUES ($1, $2)', [p.id, JSON.stringify(data)]);
  }
  await db.pool.query('INSERT INTO pols (id, book, data) VALUES ($1, $2, $3)', [PAGE, LUCIA.user, JSON.stringify({
    id: PAGE, book: LUCIA.user, page_type: 'medical', summary: 'Flu vaccine', page_date: '2025-10-01T09:00:00',
    node: 'Milano General Hospital', creation_info: { user: MARCO.user, timestamp: '2025-10-01T09:05:00', node: 'Milano General Hospital' },
  })]);
  await db.pool.query('INSERT INTO personal_docs (id, fedacct, pol, document, data) VALUES ($1, $2, $3, $4, $5)', [
    DOC, LUCIA.user, PAGE, DOC_BYTES, JSON.stringify({ document_type: 'report', extension: 'pdf', description: 'Vaccination record' }),
  ]);
  await db.pool.query(`INSERT INTO dus (id, data) VALUES ('ITMILDU01', '{"id": "ITMILDU01", "address_city": "Milano"}')`);
  await db.pool.query(`INSERT INTO institutions (id, data) VALUES ('ITMIGH002', '{"id": "ITMIGH002", "name": "Ospedale Test"}')`);
});

t.after(async () => {
  await worker?.close(1000);
  await db.drop();
});

t('the passwords are upstream-style bcrypt $2b$ hashes', async () => {
  for (const id of [LUCIA.user, MARCO.user]) assert.match(String((await storedData(db.pool, 'people', id))?.password), /^\$2b\$04\$/);
});

t('migrate() succeeds twice on the upstream database and changes no row', async () => {
  const before = await dumpRows(db.pool);
  assert.equal(await migrate(db.pool), migrationFiles());
  assert.is(await dumpRows(db.pool), before, 'the first run changed a row');
  assert.equal(await migrate(db.pool), []);
  assert.is(await dumpRows(db.pool), before, 'the second run changed a row');
  const { rows } = await db.pool.query<{ indexname: string }>(
    `SELECT indexname FROM pg_indexes WHERE tablename IN ('pols', 'personal_docs') AND indexname NOT LIKE '%_pkey' ORDER BY 1`);
  assert.equal(rows.map((r) => r.indexname), ['personal_docs_fedacct_id_idx', 'personal_docs_pol_idx', 'pols_book_id_idx']);
  // Upstream's own lookups by book and by person still run, from the new indexes.
  const book = await db.pool.query('SELECT id, data FROM pols WHERE book = $1', [LUCIA.user]);
  assert.equal(book.rows.map((r) => r.id), [PAGE]);
  const docs = await db.pool.query('SELECT id FROM personal_docs WHERE fedacct = $1 AND pol = $2', [LUCIA.user, PAGE]);
  assert.equal(docs.rows.map((r) => r.id), [DOC]);
  const client = await db.pool.connect();
  try {
    await client.query('SET enable_seqscan = off');
    const plan = async (sql: string) => (await client.query(`EXPLAIN ${sql}`, [LUCIA.user])).rows.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(await plan('SELECT id, data FROM pols WHERE book = $1'), /pols_book_id_idx/);
    assert.match(await plan('SELECT id FROM personal_docs WHERE fedacct = $1'), /personal_docs_fedacct_id_idx/);
  } finally {
    await client.query('RESET enable_seqscan');
    client.release();
  }
});

t('start-up on a configured (not embedded) database migrates and loads no demo data', async () => {
  const before = await dumpRows(db.pool);
  const config = { ...loadConfig(undefined, {}), postgresqlUri: db.url };
  const prepared = await prepareDatabase(config, createLogger('silent'), false);
  assert.equal([prepared.url, prepared.embedded], [db.url, false]);
  await prepared.stop();
  assert.is(await dumpRows(db.pool), before);
});

t('a worker serves the upstream rows, without password hashes', async () => {
  const config = { ...loadConfig(undefined, {}), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent' };
  worker = await startHttpServer(config, db.url, createLogger('silent'));
  base = `http://127.0.0.1:${worker.address.port}`;
  const list = await call(base, 'GET', '/people', { as: MARCO });
  assert.is(list.status, 200);
  const strip = ({ password: _, ...rest }: Record<string, unknown>) => rest;
  assert.equal([...list.listed!].sort((a, b) => a.id.localeCompare(b.id)), people.map(strip).sort((a, b) => String(a.id).localeCompare(String(b.id))));
  const lucia = await call(base, 'GET', `/people/${LUCIA.user}`, { as: LUCIA });
  assert.equal(lucia.json, strip(people[0]!));
  const book = await call(base, 'GET', `/pols/${LUCIA.user}`, { as: LUCIA });
  assert.equal(book.listed!.map((p: { id: string; summary: string }) => [p.id, p.summary]), [[PAGE, 'Flu vaccine']]);
  const docs = await call(base, 'GET', `/personal_docs/${LUCIA.user}`, { as: LUCIA });
  assert.equal(docs.listed, [{ id: DOC, fedacct: LUCIA.user, pol: PAGE, size: DOC_BYTES.length, document_type: 'report', extension: 'pdf', description: 'Vaccination record' }]);
  const doc = await call(base, 'GET', `/personal_docs/${LUCIA.user}/${PAGE}/${DOC}`, { as: LUCIA });
  assert.is(doc.headers['content-type'], 'application/pdf');
  assert.ok(doc.bytes.equals(DOC_BYTES));
  assert.equal((await call(base, 'GET', '/domiciliary-units/ITMILDU01', { as: MARCO })).json, { id: 'ITMILDU01', address_city: 'Milano' });
  assert.equal((await call(base, 'GET', '/institutions', { as: MARCO })).listed, [{ id: 'ITMIGH002', name: 'Ospedale Test' }]);
});

t('the upstream people log in with their bcrypt passwords, which are then upgraded', async () => {
  for (const account of [LUCIA, MARCO]) {
    assert.is((await call(base, 'GET', '/login', { as: { ...account, password: 'wrong' } })).status, 401);
    const r = await call(base, 'GET', '/login', { as: account });
    assert.equal([r.status, r.text], [200, 'true'], account.user);
    assert.match(String((await storedData(db.pool, 'people', account.user))?.password), /^\$argon2id\$/);
    assert.is((await call(base, 'GET', '/login', { as: account })).status, 200);
  }
  assert.is((await call(base, 'GET', '/login', { as: { user: 'ITMIL789GIU', password: '' } })).status, 401, 'no password: no login');
  assert.is((await call(base, 'GET', `/people/${MARCO.user}`, { as: LUCIA })).status, 403, 'roles.cfg applies to upstream people');
});

t('before a rollback: with PASSWORD_HASH = bcrypt, logins turn argon2id hashes back into bcrypt that upstream verifies', async () => {
  await worker?.close(1000);
  const config = { ...loadConfig(undefined, {}), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', passwordHash: 'bcrypt' as const };
  worker = await startHttpServer(config, db.url, createLogger('silent'));
  base = `http://127.0.0.1:${worker.address.port}`;
  for (const account of [LUCIA, MARCO]) {
    assert.match(String((await storedData(db.pool, 'people', account.user))?.password), /^\$argon2id\$/);
    assert.is((await call(base, 'GET', '/login', { as: account })).status, 200);
    const hash = String((await storedData(db.pool, 'people', account.user))?.password);
    assert.match(hash, /^\$2b\$12\$/);
    // What upstream's verify_password does: bcrypt.checkpw(password, hash).
    assert.ok(await bcrypt.compare(account.password, hash), account.user);
  }
  const changed = await call(base, 'PATCH', `/people/${LUCIA.user}`, { as: LUCIA, body: { password: 'lucia-rollback' } });
  assert.is(changed.status, 200);
  assert.ok(await bcrypt.compare('lucia-rollback', String((await storedData(db.pool, 'people', LUCIA.user))?.password)), 'new passwords are bcrypt too');
  await worker.close(1000);
  worker = undefined;
});

t('after a rollback, upstream\'s own statements work on the migrated database', async () => {
  // The statements of upstream's thalamus.py, as psycopg2 sends them (%s placeholders become $n).
  const statements: Array<[string, unknown[]]> = [
    ['SELECT id from "people" where id = $1 limit(1)', [LUCIA.user]],
    ['SELECT data from people where id = $1 limit(1)', [LUCIA.user]],
    ['SELECT data from people', []],
    ['INSERT INTO people (ID, DATA) VALUES ($1, $2)', ['ITROLLBACK1', JSON.stringify({ id: 'ITROLLBACK1', name: 'After', active: true })]],
    ['UPDATE PEOPLE SET data = data || $1 where id = $2', [JSON.stringify({ active: false }), 'ITROLLBACK1']],
    ['SELECT data from pols where book = $1', [LUCIA.user]],
    ['SELECT data from pols where id = $1 limit(1)', [PAGE]],
    ['INSERT INTO pols (ID, BOOK, DATA) VALUES ($1, $2, $3)', ['rollback-page', LUCIA.user, JSON.stringify({ id: 'rollback-page', book: LUCIA.user })]],
    ['UPDATE pols SET data = data || $1 where id = $2', [JSON.stringify({ summary: 'x' }), 'rollback-page']],
    ['SELECT fedacct, pol, data, document from personal_docs where fedacct = $1', [LUCIA.user]],
    ['SELECT data from dus', []],
    ['SELECT data from institutions', []],
    ['DELETE FROM pols WHERE id = $1', ['rollback-page']],
    ['DELETE FROM people WHERE id = $1', ['ITROLLBACK1']],
  ];
  for (const [text, values] of statements) {
    await db.pool.query(text, values).catch((err: Error) => assert.unreachable(`${text}: ${err.message}`));
  }
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM people WHERE id = $1', ['ITROLLBACK1']);
  assert.is(rows[0].n, 0);
});

t.run();
