// The kind registry (lib/kinds/registry.ts) against what is declared elsewhere: the
// change-log triggers of a migrated database (sql/020_changes.sql, 022_bulk_changes.sql)
// name every kind's table with the registry's kind name, on no other table, and record
// its person and page as the registry's columns; the vocabularies clients depend on
// (the feed's `pols`, the export's `page`, the ACL's `book`/`page`) are unchanged; and
// the record rules (lib/kinds/rules.ts) answer the API and the import with the same
// messages. A kind added to the registry and not to the migrations fails here.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createDatabase, type TestDatabase } from '../helpers/server.js';
import { migrate } from '../../lib/db/migrate.js';
import { loadConfig } from '../../lib/config.js';
import { INSERT_ORDER, KIND_ROWS, columnsOf, ownerColumn } from '../../lib/kinds/registry.js';
import { KINDS, KIND_SPECS, DOC_SQL } from '../../lib/changes/kinds.js';
import { KIND_ORDER, parseKinds, TABLE } from '../../lib/bulk/kinds.js';
import { checkLine } from '../../lib/bulk/validate.js';
import { checkMeta } from '../../lib/resources/document-meta.js';
import { enforce } from '../../lib/resources/records.js';
import { PERSON } from '../../lib/kinds/registry.js';
import { valueViolation } from '../../lib/kinds/rules.js';
import { HttpError } from '../../lib/http/errors.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../lib/config.js';

const t = suite('kinds');
let db: TestDatabase;

t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
});

t.after(async () => {
  await db?.drop();
});

t('the vocabularies clients depend on are the registry\'s, unchanged (a new kind may follow them)', () => {
  const feed = ['people', 'pols', 'documents', 'units', 'institutions'];
  const bulk = ['person', 'unit', 'institution', 'page', 'document'];
  assert.equal(KINDS.slice(0, feed.length), feed);
  assert.equal(KIND_ORDER.filter((k) => bulk.includes(k)), bulk);
  assert.equal(bulk.map((k) => TABLE[k as keyof typeof TABLE]), ['people', 'dus', 'institutions', 'pols', 'personal_docs']);
  assert.equal(feed.map((k) => KIND_SPECS[k as keyof typeof KIND_SPECS]), [
    { all: 'people', own: 'person' }, { all: 'book', own: 'book' }, { all: 'personaldocs', own: 'personaldocs' },
    { all: 'domiciliaryunits', own: null }, { all: 'institutions', own: null },
  ]);
  assert.equal(parseKinds('pols,persons,domiciliary-units,personal_docs,dus'), ['person', 'unit', 'page', 'document']);
  assert.throws(() => parseKinds('constructor'), /unknown kind "constructor"/);
  for (const k of KIND_ROWS) assert.ok(DOC_SQL.includes(`WHEN '${k.feed}' THEN (SELECT ${k.json} FROM ${k.table} WHERE id = c.id`), k.feed);
});

/** Every `enum` list of a JSON document, and every `const` as a list of one. */
function enums(node: unknown, out: unknown[][] = []): unknown[][] {
  if (Array.isArray(node)) node.forEach((n) => enums(n, out));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'enum' && Array.isArray(value)) out.push(value);
      else if (key === 'const' && typeof value === 'string') out.push([value]);
      else enums(value, out);
    }
  }
  return out;
}

t('openapi.json names the registry\'s kinds: the feed\'s in every list of kinds, the export\'s across its record schemas', () => {
  const lists = enums(JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')));
  const feed = lists.filter((l) => l.includes('pols'));
  assert.ok(feed.length >= 2, `${feed.length} lists of the feed's kinds`);
  for (const l of feed) assert.equal(l, KINDS);
  const bulkNames: unknown[] = KIND_ORDER;
  const bulk = lists.filter((l) => l.length > 0 && l.every((v) => bulkNames.includes(v)) && !l.includes('people'));
  assert.equal([...new Set(bulk.flat())].sort(), [...KIND_ORDER].sort());
});

/** Each change_record trigger of the database: its table, name, kind argument and definition. */
async function triggers(): Promise<Array<{ table: string; name: string; kind: string; def: string }>> {
  const { rows } = await db.pool.query<{ table: string; name: string; def: string }>(`
    SELECT c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS def
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
    WHERE p.proname = 'changes_record' ORDER BY 1, 2`);
  return rows.map((r) => ({ ...r, kind: /changes_record\('([^']*)'\)/.exec(r.def)?.[1] ?? '?' }));
}

t('every kind\'s table has its two change-log triggers with the registry\'s kind name, and no other table has one', async () => {
  const expected = KIND_ROWS.flatMap((k) => [
    { table: k.table, name: 'changes_log', kind: k.feed },
    { table: k.table, name: 'changes_log_update', kind: k.feed },
  ]).sort((a, b) => a.table.localeCompare(b.table) || a.name.localeCompare(b.name));
  const found = await triggers();
  assert.equal(found.map(({ table, name, kind }) => ({ table, name, kind })), expected);
  for (const tr of found) {
    assert.match(tr.def, /DEFERRABLE INITIALLY DEFERRED/, `${tr.table}.${tr.name}`);
    // Inserts of an import are logged at its commit, set-based (022_bulk_changes.sql).
    if (tr.name === 'changes_log') assert.match(tr.def, /thalamus\.bulk_import/, `${tr.table}.${tr.name}`);
  }
  const check = await db.pool.query<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
    WHERE conrelid = 'changes'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%kind%'`);
  assert.is(check.rows.length, 1);
  assert.equal([...check.rows[0]!.def.matchAll(/'([^']+)'::text/g)].map((m) => m[1]).sort(), KIND_ROWS.map((k) => k.feed).sort());
});

t('the triggers log each kind\'s person and page from the registry\'s columns', async () => {
  const before = (await db.pool.query<{ seq: string }>('SELECT COALESCE(max(seq), 0) AS seq FROM changes')).rows[0]!.seq;
  const value = (column: string, k: (typeof KIND_ROWS)[number]): string | null => {
    if (column === 'id') return `KIND-${k.bulk.toUpperCase()}`;
    if (column === ownerColumn(k)) return 'KIND-PERSON';
    if (column === k.within?.column) return `KIND-${k.within.bulk.toUpperCase()}`;
    return null;
  };
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const k of INSERT_ORDER) {
      const columns = columnsOf(k);
      await client.query(`INSERT INTO ${k.table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
        columns.map((c) => (c === 'data' ? '{}' : value(c, k))));
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const { rows } = await db.pool.query('SELECT kind, id, person, page, op FROM changes WHERE seq > $1 ORDER BY seq', [before]);
  assert.equal(rows, INSERT_ORDER.map((k) => ({
    kind: k.feed, id: value('id', k), person: k.person === null ? null : value(k.person, k),
    page: k.within ? value(k.within.column, k) : null, op: 'create',
  })));
});

const { personIdPattern, recordIdPattern } = loadConfig(undefined, {});
const RULES = { personIdPattern, recordIdPattern };

/** The API's answer to a body, as records.ts words a broken rule. */
function apiRefusal(check: () => void): { code: string; message: string } | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    assert.instance(err, HttpError);
    return { code: (err as HttpError).code, message: (err as HttpError).message };
  }
}

t('one set of record rules: the API and the import refuse the same values with the same messages', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ roles: 'root' }, '"roles" must be a list of role names'],
    [{ roles: ['end_user', 3] }, '"roles" must be a list of role names'],
    [{ active: 'yes' }, '"active" must be true or false'],
  ];
  for (const [data, message] of cases) {
    assert.equal(apiRefusal(() => enforce(valueViolation(PERSON.values, data))), { code: 'INVALID_VALUE', message });
    assert.equal(checkLine(JSON.stringify({ kind: 'person', id: 'KIND1', data }), RULES), { problem: message });
  }
  // A key that differs: the API names the URL's, the import the record's.
  assert.equal(apiRefusal(() => checkMeta({ fedacct: 'other' }, { person: 'KIND1', page: 'p', doc: 'd' })),
    { code: 'ID_MISMATCH', message: 'The body\'s "fedacct" differs from the one in the URL; it cannot be changed' });
  assert.equal(checkLine(JSON.stringify({ kind: 'page', id: 'p1', book: 'kind1', data: { book: 'KIND2' } }), RULES), { problem: '"data.book" differs from the record\'s "book"' });
  const page = checkLine(JSON.stringify({ kind: 'page', id: 'p1', book: 'kind1', data: { id: 'p1', book: 'kind1' } }), RULES);
  assert.equal(page, { kind: 'page', id: 'p1', owner: 'KIND1', text: JSON.stringify({ kind: 'page', id: 'p1', book: 'kind1', data: { id: 'p1', book: 'kind1' } }), merge: true, n: 0 });
  assert.equal(apiRefusal(() => checkMeta({ size: 1.5 }, { person: 'KIND1', page: 'p', doc: 'd' })), { code: 'INVALID_VALUE', message: '"size" must be a whole number' });
});

t.run();
