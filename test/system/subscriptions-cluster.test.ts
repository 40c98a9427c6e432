// Push delivery across processes, as users run it (server/main.ts in child processes):
// kill -9 of the worker delivering a batch loses nothing (another worker takes the
// subscription over and sends the unacknowledged batch again), and two instances on
// one database deliver each batch once, also while one of them is stopped midway.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { migrate } from '../../lib/db/migrate.js';
import { createDatabase, type TestDatabase, loadTestDemo } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { startCluster, childPids, waitFor, sleep, type ClusterProcess } from '../helpers/cluster.js';
import { call, ROOT } from '../helpers/http.js';
import { startReceiver, type Delivery } from '../helpers/receiver.js';

const SECRET = 'cluster-test-shared-secret';
const FAST = {
  THALAMUS_SUBSCRIPTION_BATCH: '5', THALAMUS_SUBSCRIPTION_RETRY_MIN_MS: '100', THALAMUS_SUBSCRIPTION_RETRY_MAX_MS: '500',
  // The receivers are on loopback: the operator's list must name it.
  THALAMUS_SUBSCRIPTION_ALLOW_HOSTS: '127.0.0.1',
};

/** The process among `pids` that owns the TCP socket bound to local port `port` (from /proc). */
function pidOfLocalPort(pids: number[], port: number): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`)) inodes.add(cols[9]!);
    }
  }
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return pid;
      }
    } catch { /* gone meanwhile */ }
  }
  return undefined;
}

/** From the database: after a kill, a kept-alive connection to the dead worker would fail. */
async function expectedSeqs(since: number, kind: string): Promise<number[]> {
  const { rows } = await db.pool.query<{ seq: string }>('SELECT seq FROM changes WHERE seq > $1 AND kind = $2 ORDER BY seq', [since, kind]);
  return rows.map((r) => Number(r.seq));
}

/** The accepted batches, concatenated: each change once, in order, when delivery is exactly-once per try. */
const accepted = (ds: Delivery[], answered: Set<Delivery>) => ds.filter((d) => answered.has(d)).flatMap((d) => d.seqs);

const t = suite('subscriptions across processes');
let db: TestDatabase;
t.before(async () => {
  db = await createDatabase();
  await migrate(db.pool);
  await loadTestDemo(db.pool);
});
t.after(async () => { await db.drop(); });

t('kill -9 of the worker delivering a batch: another worker sends it again and then the rest; nothing is lost', async () => {
  const rx = await startReceiver(SECRET);
  let c: ClusterProcess | undefined;
  try {
    c = await startCluster({ DATABASE_URL: db.url, THALAMUS_PROCESSES: '2', ...FAST });
    const start = (await call(c.base, 'GET', '/changes?since=now', { as: ROOT })).json.last_seq;
    const answered = new Set<Delivery>();
    rx.answer = (d, n) => {
      if (n === 2) return 'hold';
      answered.add(d);
      return 200;
    };
    const made = await call(c.base, 'POST', '/subscriptions', { as: ROOT, body: { url: rx.url, secret: SECRET, kinds: ['pols'] } });
    assert.is(made.status, 201);
    for (let i = 0; i < 20; i++) await db.pool.query(`INSERT INTO pols (id, book, data) VALUES ($1, 'ESPGNU777ORG', '{}')`, [`k9-${i}`]);
    await waitFor('the second batch, held', () => rx.deliveries.length >= 2, 10_000);
    const workers = childPids(c.pid);
    const sender = pidOfLocalPort(workers, rx.deliveries[1]!.remotePort);
    assert.ok(sender, `the delivering worker is one of ${workers}`);
    const held = rx.deliveries[1]!;
    const killedAt = Date.now();
    process.kill(sender!, 'SIGKILL');
    rx.releaseHeld(200);
    const expected = await expectedSeqs(start, 'pols');
    assert.is(expected.length, 20);
    await waitFor('every change after the kill', () => rx.seqs().length === 20, 20_000);
    const again = rx.deliveries.slice(2).find((d) => d.seqs[0] === held.seqs[0])!;
    assert.ok(again, 'the batch the killed worker sent was sent again');
    assert.equal(accepted(rx.deliveries, answered), expected, 'the acknowledged batches hold every change once, in order');
    assert.ok(rx.deliveries.every((d) => d.signed));
    const taker = pidOfLocalPort(childPids(c.pid), again.remotePort);
    assert.ok(taker !== sender);
    process.stdout.write(`  [subscriptions] kill -9 of worker ${sender} holding seqs ${held.seqs[0]}..${held.seqs[held.seqs.length - 1]}: sent again by worker ${taker ?? '?'} ${again.at - killedAt} ms later; ${rx.deliveries.length} POSTs for 20 changes, none lost\n`);
    await waitFor('acknowledged', async () => Number((await db.pool.query('SELECT last_seq FROM subscriptions WHERE id = $1', [made.json.id])).rows[0].last_seq) === expected[19], 10_000);
    await db.pool.query('DELETE FROM subscriptions');
  } finally {
    await c?.stop(5000);
    await rx.close();
  }
});

t('two instances on one database deliver each batch once, also across a graceful stop of the one delivering', async () => {
  const rx = await startReceiver(SECRET);
  const servers: ServerProcess[] = [];
  try {
    for (let i = 0; i < 2; i++) servers.push(await spawnServer(db.url, FAST));
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const sender = new Map<Delivery, number | undefined>();
    rx.answer = (d) => { sender.set(d, pidOfLocalPort([a.pid, b.pid], d.remotePort)); return 200; };
    const start = (await call(a.base, 'GET', '/changes?since=now', { as: ROOT })).json.last_seq;
    const made = await call(b.base, 'POST', '/subscriptions', { as: ROOT, body: { url: rx.url, secret: SECRET, kinds: ['institutions'] } });
    assert.is(made.status, 201);
    const write = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await db.pool.query(`INSERT INTO institutions (id, data) VALUES ($1, '{}')`, [`two-${i}`]);
        if (i % 10 === 0) await sleep(20);
      }
    };
    await write(0, 100);
    await waitFor('the first 100', () => rx.seqs().length === 100, 15_000);
    const first = sender.get(rx.deliveries[0]!);
    const holder = first === a.pid ? a : b;
    const other = holder === a ? b : a;
    const stopping = holder.stop();
    await write(100, 200);
    await stopping;
    await waitFor('all 200', () => rx.seqs().length === 200, 15_000);
    const expected = await expectedSeqs(start, 'institutions');
    assert.is(expected.length, 200);
    const all = rx.deliveries.flatMap((d) => d.seqs);
    assert.equal(all, expected, 'every change exactly once, in order, over both instances');
    const senders = new Set(rx.deliveries.map((d) => sender.get(d)));
    assert.equal([...senders].sort(), [a.pid, b.pid].sort(), 'each instance delivered a part');
    process.stdout.write(`  [subscriptions] two instances: 200 changes in ${rx.deliveries.length} POSTs, each batch once; the first ${rx.deliveries.filter((d) => sender.get(d) === holder.pid).length} by the instance stopped midway, the rest by the other\n`);
  } finally {
    for (const s of servers) await s.stop();
    await rx.close();
  }
});

t.run();
