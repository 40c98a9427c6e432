// The request log: one JSON line per request with the request id (given or made), method,
// route pattern, status, duration and account; no credential ever reaches it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { request } from 'undici';
import { loadConfig } from '../../lib/config.js';
import { REDACT } from '../../lib/log.js';
import { migrate } from '../../lib/db/migrate.js';
import { startHttpServer, type HttpServer } from '../../server/http-server.js';
import { createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { CAMERON, basic } from '../helpers/http.js';

const t = suite('request log');
let db: TestDatabase;
let worker: HttpServer;
let base: string;
const lines: Record<string, unknown>[] = [];

t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  const log = pino({ level: 'info', redact: { paths: REDACT, censor: '[redacted]' } }, sink);
  worker = await startHttpServer({ ...loadConfig(undefined, {}), listen: { host: '127.0.0.1', port: 0 } }, db.url, log);
  base = `http://127.0.0.1:${worker.address.port}`;
});

t.after(async () => {
  await worker.close(1000);
  await db.drop();
});

const requestLine = async (id: string) => {
  for (let i = 0; i < 50 && !lines.some((l) => l.reqId === id); i++) await new Promise((r) => setTimeout(r, 20));
  return lines.find((l) => l.reqId === id);
};

t('a request with X-Request-Id: the id comes back and the line has route, status, duration and account', async () => {
  const res = await request(`${base}/people/ESPGNU777ORG?x=1`, { headers: { authorization: basic(CAMERON), 'x-request-id': 'log-test-1' } });
  await res.body.dump();
  assert.is(res.statusCode, 200);
  assert.is(res.headers['x-request-id'], 'log-test-1');
  const line = (await requestLine('log-test-1'))!;
  assert.ok(line, 'logged');
  assert.is(line.msg, 'request');
  assert.is(line.method, 'GET');
  assert.is(line.route, '/people/:id');
  assert.is(line.status, 200);
  assert.is(line.account, 'ITAPYT999HON');
  assert.type(line.ms, 'number');
  assert.not.match(JSON.stringify(lines), /gnusolidario|SVRBUFlU|Basic /);
});

t('without one (or with an unusable one) an id is made', async () => {
  const res = await request(`${base}/login`, { headers: { 'x-request-id': 'bad id with spaces' } });
  await res.body.dump();
  assert.is(res.statusCode, 401);
  const id = String(res.headers['x-request-id']);
  assert.match(id, /^[0-9a-f-]{36}$/);
  const line = (await requestLine(id))!;
  assert.is(line.status, 401);
  assert.is(line.route, '/login');
  assert.is(line.account, undefined);
});

t('the shipped logger writes the lines of one turn together, a lone line at once (not when more come), and what is left at exit', async () => {
  // A child process with stdout a pipe (JSON lines): 200 lines in one turn, one more a
  // turn later, and, a second after that, two written just before process.exit().
  const script = `
    import { createLogger } from '${new URL('../../lib/log.ts', import.meta.url).href}';
    const log = createLogger('info');
    for (let i = 0; i < 200; i++) log.info({ i }, 'burst');
    setTimeout(() => {
      log.info('later');
      setTimeout(() => { log.info('last 1'); log.error('last 2'); process.exit(3); }, 1000);
    }, 50);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, THALAMUS_LOG_JSON: '1' } });
  const arrived: { msg: string; i?: number; at: number }[] = [];
  let rest = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    for (const line of parts) arrived.push({ ...JSON.parse(line), at: Date.now() });
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.is(code, 3);
  assert.is(arrived.length, 203);
  assert.equal(arrived.slice(0, 200).map((m) => m.i), [...Array(200).keys()], 'in order');
  assert.equal(arrived.slice(200).map((m) => m.msg), ['later', 'last 1', 'last 2']);
  assert.ok(arrived[201]!.at - arrived[200]!.at > 500, 'the lone line was written at once, not with the next ones');
});

t.run();
