// Credential invalidation, the two designs of issue 4 measured side by side:
// (1) re-read the person's row on every request (what lib/auth/authenticate.ts does):
//     its cost is one indexed SELECT per request;
// (2) LISTEN/NOTIFY: keep the principal in memory and drop it when a trigger notifies
//     a change. Its cost per request is a Map lookup, but a notification reaches other
//     connections only after the COMMIT returned, so a request that arrives in that
//     window is answered with the old password, roles or active flag.
import pg from 'pg';
import { createAuthenticator } from '../lib/auth/authenticate.js';
import { createLockout } from '../lib/auth/lockout.js';
import { createCredentialCache } from '../lib/auth/cache.js';
import { createFailureTimer } from '../lib/auth/failure-time.js';
import { createPasswords } from '../lib/auth/passwords.js';
import { parseBasic } from '../lib/auth/basic.js';
import { createLogger } from '../lib/log.js';

const CHANNEL = 'thalamus_bench_people';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** Calls per second of `fn` run `total` times, `concurrency` at a time. */
async function rate(total: number, concurrency: number, fn: () => Promise<unknown>): Promise<number> {
  let left = total;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => { while (left-- > 0) await fn(); }));
  return total / (Number(process.hrtime.bigint() - start) / 1e9);
}

export async function measureInvalidation(databaseUrl: string, account: { user: string; password: string }): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  // The run's final DROP DATABASE ... WITH (FORCE) may reach a connection still closing.
  pool.on('error', () => undefined);
  const header = `Basic ${Buffer.from(`${account.user}:${account.password}`).toString('base64')}`;
  const lockout = createLockout(pool, { pairFailures: 10, accountFailures: 100, addressFailures: 200, windowSeconds: 900, ipv6Prefix: 56, knownAddressDays: 30 });
  const credentials = createCredentialCache();
  const auth = createAuthenticator({ pool, cache: credentials, passwords: createPasswords(), lockout, timer: createFailureTimer(), personIdPattern: /^[A-Za-z0-9._-]{1,128}$/, log: createLogger('silent') });
  const creds = parseBasic(header)!;
  const login = { creds, key: credentials.keyOf(creds.account, creds.password), address: '127.0.0.1', lockoutAddress: '127.0.0.1', route: '/login', requestId: 'bench' };
  await auth.authenticate(login); // one verification; the rest are cache hits
  const reread = await rate(20_000, 10, () => auth.authenticate(login));
  // The LISTEN/NOTIFY design needs no query on a hit: a map of principals.
  const principals = new Map([[account.user, { id: account.user, roles: ['root'] }]]);
  const cache = createCredentialCache();
  const principal = principals.get(account.user)!;
  cache.set(cache.keyOf(account.user, account.password), { principal, hash: 'h', rolesJson: '["root"]', lockoutAddress: '127.0.0.1' });
  const inMemory = await rate(20_000, 10, async () => {
    if (cache.get(cache.keyOf(account.user, account.password))?.hash !== 'h') throw new Error('miss');
    return principals.get(account.user);
  });

  // The notification window: after the writer's COMMIT returns, has the listener heard?
  const listener = new pg.Client({ connectionString: databaseUrl });
  await listener.connect();
  await listener.query(`LISTEN ${CHANNEL}`);
  const heard = new Map<number, bigint>();
  listener.on('notification', (n) => heard.set(Number(n.payload), process.hrtime.bigint()));
  const writer = await pool.connect();
  const trials = 300;
  let stale = 0;
  const latencies: number[] = [];
  for (let i = 0; i < trials; i++) {
    await writer.query('BEGIN');
    await writer.query(`UPDATE people SET data = data || jsonb_build_object('bench_n', $2::int) WHERE id = $1`, [account.user, i]);
    await writer.query(`SELECT pg_notify('${CHANNEL}', $1)`, [String(i)]);
    await writer.query('COMMIT');
    const committed = process.hrtime.bigint();
    if (!heard.has(i)) stale++; // a request handled now would use the old principal
    while (!heard.has(i)) await new Promise((r) => setImmediate(r));
    latencies.push(Math.max(0, Number(heard.get(i)! - committed) / 1e6));
  }
  writer.release();
  await listener.end();
  await pool.end();
  latencies.sort((x, y) => x - y);
  const lines = [
    '| design | authenticated calls/s (in-process, warm cache) | per call | changes visible on the next request |',
    '|---|---|---|---|',
    `| re-read the row per request (kept) | ${Math.round(reread)} | ${(1000 / reread).toFixed(3)} ms | always (${trials}/${trials} by construction) |`,
    `| LISTEN/NOTIFY, principal in memory | ${Math.round(inMemory)} | ${(1000 / inMemory).toFixed(4)} ms | not yet notified after COMMIT in ${stale}/${trials} trials; notification latency p50 ${pct(latencies, 50).toFixed(2)} ms, p99 ${pct(latencies, 99).toFixed(2)} ms |`,
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
}
