// The storage quota of a person's book (issue 20, finding 12): DOCUMENT_QUOTA_BYTES and
// DOCUMENT_QUOTA_COUNT bound the documents stored under one fedacct, whoever uploads
// them. Attacked as the tester did, an end user uploading as fast as the server takes
// it, here in parallel so that uploads that fit alone together exceed the quota: the
// check and the insert must be one step. A refusal is 413 DOCUMENT_QUOTA_EXCEEDED and
// stores nothing; a resend of a stored document still answers 200.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { startServer, type TestServer } from '../helpers/server.js';
import { call, ANA, CAMERON, ROOT, type CallOptions } from '../helpers/http.js';
import { dumpRows } from '../helpers/rows.js';

const BIRTH = '5cc70e53-5378-427f-b3d2-84cab4da04a2';
const KIB = 1024;
const QUOTA_BYTES = 4 * 1024 * KIB;
const QUOTA_COUNT = 10;
const quotaError = (person: string) => ({
  error: `Storing this document would take the documents of ${person}'s book past its quota (DOCUMENT_QUOTA_BYTES ${QUOTA_BYTES} bytes, DOCUMENT_QUOTA_COUNT ${QUOTA_COUNT} documents); remove some first`,
  code: 'DOCUMENT_QUOTA_EXCEEDED',
});

const t = suite('document quota');
let s: TestServer;
const req = (method: string, path: string, opts: CallOptions = {}) => call(s.base, method, path, opts);
const upload = (person: string, page: string, doc: string, bytes: Buffer, as = ANA) =>
  req('POST', `/personal_docs/${person}/${page}/${doc}`, { as, raw: bytes, headers: { 'content-type': 'application/octet-stream' } });

async function usage(person: string): Promise<{ bytes: number; docs: number }> {
  const { rows } = await s.db.pool.query(`SELECT COALESCE(sum(octet_length(document)), 0)::int AS bytes, count(*)::int AS docs FROM personal_docs WHERE fedacct = $1`, [person]);
  return rows[0];
}

t.before(async () => {
  // Enough upload slots that every upload of the attack is stored at the same moment.
  s = await startServer({ documentQuotaBytes: QUOTA_BYTES, documentQuotaCount: QUOTA_COUNT, uploadConcurrency: 64 });
  for (const as of [ANA, CAMERON, ROOT]) assert.is((await req('GET', '/login', { as })).status, 200);
});
t.after(async () => { await s.close(); });

t('16 parallel uploads of 512 KiB by an end user: the book stops at DOCUMENT_QUOTA_BYTES, each refusal 413 and nothing stored', async () => {
  const before = await usage(ANA.user);
  const size = 512 * KIB;
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => upload(ANA.user, BIRTH, `flood-${i}`, randomBytes(size))));
  const after = await usage(ANA.user);
  const statuses: Record<number, number> = {};
  for (const r of answers) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  console.log(`  quota: ${JSON.stringify(statuses)} in ${Date.now() - started} ms; the book holds ${after.bytes} bytes in ${after.docs} documents (quota ${QUOTA_BYTES})`);
  const fits = Math.floor((QUOTA_BYTES - before.bytes) / size);
  assert.equal(statuses, { 201: fits, 413: 16 - fits });
  assert.ok(after.bytes <= QUOTA_BYTES, `${after.bytes} bytes stored, over the quota of ${QUOTA_BYTES}`);
  assert.is(after.docs, before.docs + fits);
  for (const r of answers.filter((a) => a.status === 413)) assert.equal(r.json, quotaError(ANA.user));
});

t('a full book: one more byte is refused and changes no row; the very same document again is 200; administrators are held to it too', async () => {
  const rows = await dumpRows(s.db.pool);
  for (const as of [ANA, CAMERON, ROOT]) {
    const r = await upload(ANA.user, BIRTH, 'one-more', randomBytes(QUOTA_BYTES - (await usage(ANA.user)).bytes + 1), as);
    assert.is(r.status, 413, `${as.user}: ${r.text}`);
    assert.equal(r.json, quotaError(ANA.user));
  }
  assert.is(await dumpRows(s.db.pool), rows);
  const stored = (await s.db.pool.query(`SELECT document FROM personal_docs WHERE id = 'flood-0' OR id LIKE 'flood-%' ORDER BY id LIMIT 1`)).rows[0].document as Buffer;
  const id = (await s.db.pool.query(`SELECT id FROM personal_docs WHERE document = $1`, [stored])).rows[0].id as string;
  assert.is((await upload(ANA.user, BIRTH, id, stored)).status, 200, 'a resend of a stored document');
  // Removing a document makes room again.
  assert.is((await req('DELETE', `/personal_docs/${ANA.user}/${BIRTH}/${id}`, { as: ROOT })).status, 204);
  assert.is((await upload(ANA.user, BIRTH, 'after-delete', randomBytes(256 * KIB))).status, 201);
});

t('DOCUMENT_QUOTA_COUNT: 14 parallel small uploads into another book store 10; the first book changes nothing for it', async () => {
  assert.is((await req('POST', `/pols/${CAMERON.user}/quota-page`, { as: CAMERON, body: { page_type: 'medical' } })).status, 201);
  const answers = await Promise.all(Array.from({ length: 14 }, (_, i) => upload(CAMERON.user, 'quota-page', `small-${i}`, randomBytes(100), CAMERON)));
  const statuses: Record<number, number> = {};
  for (const r of answers) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  assert.equal(statuses, { 201: QUOTA_COUNT, 413: 14 - QUOTA_COUNT });
  assert.is((await usage(CAMERON.user)).docs, QUOTA_COUNT);
  for (const r of answers.filter((a) => a.status === 413)) assert.equal(r.json, quotaError(CAMERON.user));
});

t.run();

// ---------------------------------------------------------------------------
const off = suite('document quota off');
off.before(async () => { s = await startServer({ documentQuotaBytes: 0, documentQuotaCount: 0 }); });
off.after(async () => { await s.close(); });

off('0 means no quota', async () => {
  for (let i = 0; i < 3; i++) assert.is((await upload(ANA.user, BIRTH, `free-${i}`, randomBytes(2 * 1024 * KIB))).status, 201);
});

off.run();
