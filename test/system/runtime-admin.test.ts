// The admin listener under attack (finding 11 of issue 20): a local process opens idle
// connections to it, each a file descriptor of the primary. The primary also accepts
// every API connection (node:cluster hands them to the workers), so with its
// descriptors exhausted the API fails. Idle connections must be closed within a bound
// (silent ones, a request's headers sent slowly, a kept-alive one after its answer), and
// beyond a cap new ones are dropped at once, so the API keeps answering.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { request } from 'undici';
import { migrate } from '../../lib/db/migrate.js';
import { ADMIN_IDLE_MS, ADMIN_MAX_CONNECTIONS } from '../../server/admin.js';
import { createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { ANA, basic } from '../helpers/http.js';
import { startCluster, adminGet, sleep, type ClusterProcess } from '../helpers/cluster.js';

const t = suite('runtime: the admin listener caps and times out its connections');
let db: TestDatabase;
let c: ClusterProcess;
const sockets: Socket[] = [];

t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
  c = await startCluster({ DATABASE_URL: db.url, THALAMUS_PROCESSES: '1' });
});

t.after(async () => {
  for (const s of sockets) s.destroy();
  await c?.stop(2000);
  await db.drop();
});

interface Watched { socket: Socket; closedAt?: number }

/** A connection to the admin port that records when the server closes it; `send` is written once connected. */
function open(send = ''): Promise<Watched> {
  const { port } = new URL(c.admin);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1');
    const w: Watched = { socket };
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('close', () => { w.closedAt = Date.now(); });
    socket.once('connect', () => { if (send) socket.write(send); resolve(w); });
    socket.once('close', () => resolve(w));
  });
}

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

t('idle admin connections are closed within the bound: silent, headers sent slowly, kept alive after an answer', async () => {
  const start = Date.now();
  const silent = await open();
  const slow = await open('GET /healthz HTTP/1.1\r\nHost: admin\r\n');
  // One header line every second: never silent long enough for an idle timeout alone.
  const drip = setInterval(() => slow.socket.write(`X-Drip-${Date.now()}: 1\r\n`), 1000);
  const kept = await open('GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n');
  const bound = ADMIN_IDLE_MS + 3000;
  try {
    while (Date.now() - start < bound + 2000 && [silent, slow, kept].some((w) => w.closedAt === undefined)) await sleep(100);
  } finally {
    clearInterval(drip);
  }
  const after = (w: Watched) => (w.closedAt === undefined ? 'open' : `${w.closedAt - start} ms`);
  process.stdout.write(`  [admin] closed after: silent ${after(silent)}, slow headers ${after(slow)}, kept alive ${after(kept)} (bound ${bound} ms)\n`);
  for (const [name, w] of [['silent', silent], ['slow headers', slow], ['kept alive', kept]] as const) {
    assert.ok(w.closedAt !== undefined && w.closedAt - start <= bound, `${name}: closed within ${bound} ms (${after(w)})`);
  }
});

t('beyond the cap new admin connections are dropped at once; with the primary\'s descriptors bounded the API answers every request', async () => {
  // The primary's descriptors, as a busy host would leave them: 150 more than it uses.
  const limit = openFds(c.pid) + 150;
  const prlimit = spawnSync('prlimit', ['--pid', String(c.pid), `--nofile=${limit}:${limit}`]);
  assert.is(prlimit.status, 0, `prlimit: ${prlimit.stderr}`);
  const idle = await Promise.all(Array.from({ length: 300 }, () => open()));
  await sleep(500);
  const held = idle.filter((w) => w.closedAt === undefined).length;
  const api = await Promise.all(Array.from({ length: 12 }, async () => {
    try {
      const res = await request(`${c.base}/people/${ANA.user}`, { headers: { authorization: basic(ANA), connection: 'close' }, headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      return res.statusCode;
    } catch {
      return 0;
    }
  }));
  const failed = api.filter((s) => s !== 200).length;
  process.stdout.write(`  [admin] 300 idle admin connections: ${held} held by the primary (limit ${limit} descriptors), API failed ${failed} of 12\n`);
  assert.is(held, ADMIN_MAX_CONNECTIONS, `at most ${ADMIN_MAX_CONNECTIONS} held`);
  assert.is(failed, 0, `API answers: ${api.join(' ')}`);
  // Once the held ones time out, the admin listener answers again.
  for (const w of idle) w.socket.destroy();
  await sleep(200);
  assert.equal(await adminGet(c, '/healthz'), { status: 200, text: '{"status":"ok"}' });
});

t.run();
