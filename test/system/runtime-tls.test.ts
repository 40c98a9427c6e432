// Native HTTPS (TLS_CERT / TLS_KEY), as uWSGI's `https =`: a worker serving TLS 1.2+,
// a certificate that cannot be read stopping start-up with a clear message, and SIGHUP
// picking up a renewed certificate in the cluster.
import * as assert from 'uvu/assert';
import { suiteNeeding, TOOLS } from '../helpers/tools.js';
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { loadConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { migrate } from '../../lib/db/migrate.js';
import { startHttpServer } from '../../server/http-server.js';
import { startServer, createDatabase, type TestServer, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { CAMERON, basic } from '../helpers/http.js';
import { makeCert, handshake, type Cert } from '../helpers/tls.js';
import { startCluster, metric, waitFor, within } from '../helpers/cluster.js';

const t = suiteNeeding('runtime: native HTTPS', [TOOLS.openssl]);
let dir: string;
let a: Cert;
let b: Cert;
let s: TestServer | undefined;

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thalamus-tls-'));
  a = makeCert(dir, 'a');
  b = makeCert(dir, 'b');
});

t.after(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

t('TLS_CERT and TLS_KEY: the worker answers over HTTPS, TLS 1.2 and 1.3 only', async () => {
  s = await startServer({ tlsCert: a.cert, tlsKey: a.key });
  assert.ok(s.worker.tls);
  const port = s.worker.address.port;
  const dispatcher = new Agent({ connect: { ca: a.pem, servername: 'localhost' } });
  const res = await request(`https://127.0.0.1:${port}/people/ESPGNU777ORG`, { headers: { authorization: basic(CAMERON) }, dispatcher });
  assert.is(res.statusCode, 200);
  assert.is(((await res.body.json()) as { name: string }).name, 'Ana');
  await dispatcher.close();
  assert.is((await handshake(port)).protocol, 'TLSv1.3');
  assert.is((await handshake(port, { maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
  const old = await handshake(port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
  assert.ok(old.error, `TLS 1.1 refused: ${JSON.stringify(old)}`);
  const plain = await request(`http://127.0.0.1:${port}/login`).then((r) => r.statusCode, () => 'refused');
  assert.is.not(plain, 200);
});

t('an unreadable certificate or key stops startHttpServer with a message naming the file', async () => {
  const config = { ...loadConfig(undefined, {}), listen: { host: '127.0.0.1', port: 0 }, tlsCert: join(dir, 'missing.crt'), tlsKey: a.key };
  const log = createLogger('silent');
  try {
    await startHttpServer(config, 'postgresql://unused@127.0.0.1:1/none', log);
    assert.unreachable('started');
  } catch (err) {
    assert.match((err as Error).message, `cannot read the TLS certificate (TLS_CERT) ${join(dir, 'missing.crt')}: ENOENT`);
  }
  try {
    await startHttpServer({ ...config, tlsCert: a.cert, tlsKey: b.key }, 'postgresql://unused@127.0.0.1:1/none', log);
    assert.unreachable('started');
  } catch (err) {
    assert.match((err as Error).message, `TLS_CERT ${a.cert} and TLS_KEY ${b.key} are not a usable certificate and key`);
  }
});

t('the cluster refuses to start with an unreadable key: exit 78 and the reason', async () => {
  const c = await startCluster({ DATABASE_URL: 'postgresql://unused@127.0.0.1:1/none', THALAMUS_TLS_CERT: a.cert, THALAMUS_TLS_KEY: join(dir, 'missing.key') }, { ready: false });
  const exit = await within(c.exited, 20_000, 'the refused start').finally(() => c.stop(100));
  assert.equal(exit, { code: 78, signal: null });
  assert.match(c.output(), `thalamus: configuration error: cannot read the TLS key (TLS_KEY) ${join(dir, 'missing.key')}: ENOENT`);
});

t('SIGHUP picks up a renewed certificate', async () => {
  let db: TestDatabase | undefined;
  const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
  copyFileSync(a.cert, live.cert);
  copyFileSync(a.key, live.key);
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  const c = await startCluster({ DATABASE_URL: db.url, THALAMUS_TLS_CERT: live.cert, THALAMUS_TLS_KEY: live.key }, { scheme: 'https' });
  try {
    const port = Number(new URL(c.base).port);
    const before = await handshake(port);
    copyFileSync(b.cert, live.cert);
    copyFileSync(b.key, live.key);
    process.kill(c.pid, 'SIGHUP');
    await waitFor('the reload', async () => (await metric(c, 'thalamus_reloads_total')) === 1);
    const after = await handshake(port);
    assert.ok(before.fingerprint && after.fingerprint);
    assert.is.not(after.fingerprint, before.fingerprint);
    const dispatcher = new Agent({ connect: { ca: b.pem, servername: 'localhost' } });
    const res = await request(`${c.base}/login`, { headers: { authorization: basic(CAMERON) }, dispatcher });
    assert.is(res.statusCode, 200);
    assert.is(await res.body.text(), 'true');
    await dispatcher.close();
  } finally {
    // On a failure, what the cluster printed says why it did not exit cleanly.
    assert.equal(await c.stop(), { code: 0, signal: null }, c.output().slice(-4000));
    await db.drop();
  }
});

t.run();
