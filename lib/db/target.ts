// Choosing the host of a multi-host connection string (lib/db/hosts.ts) the way libpq
// does with target_session_attrs, which node-postgres lacks. Every connection of a pool
// (and the LISTEN and lock connections) is a TargetClient: before connecting it asks
// the target which host to use, and after connecting it checks that the server is still
// the kind wanted (`read-write`: transaction_read_only is off), so a pool never holds a
// session on a standby. The target remembers the last good host and uses it without
// asking again until a connection to it fails; then the next connection probes the hosts
// in turn (the last good one first), which is how a failover is found without a restart.
// A single-host URL without target_session_attrs never comes here (createPool, newClient
// give it to node-postgres as it is).
import pg from 'pg';
import { needsHostSelection, parseDatabaseUrl, type DatabaseUrl, type SessionAttrs } from './hosts.js';

/**
 * No host accepts the session wanted (all down, or all standbys during a failover).
 * SQLSTATE 08001 (sqlclient_unable_to_establish_sqlconnection), as libpq reports it, so
 * lib/http/errors.ts answers 503 by the code.
 */
export class NoHostError extends Error {
  readonly code = '08001';
}

/** A failed probe is reused this long: during a failover's gap, requests get 503 without each probing every host. */
const FAILED_PROBE_REUSE_MS = 100;
/** Bounds of one probe connection (connect, then one query). */
const PROBE_TIMEOUT_MS = 2000;

const SESSION_SQL = `SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') = 'on' AS read_only`;

interface Session { recovery: boolean; read_only: boolean }

function accepts(attrs: SessionAttrs, s: Session): boolean {
  switch (attrs) {
    case 'read-write': return !s.read_only;
    case 'read-only': return s.read_only;
    case 'primary': return !s.recovery;
    case 'standby': return s.recovery;
    default: return true;
  }
}

const describe = (s: Session) => (s.recovery ? 'a standby' : s.read_only ? 'read-only' : 'read-write');

/** A host was chosen that is not the one used before: a failover (or the first choice). */
export type SwitchListener = (to: string, from: string | undefined) => void;

export class Target {
  readonly url: DatabaseUrl;
  /** Index of the last host that gave an accepted session. */
  private good = 0;
  /** The last good host has not failed since: use it without probing. */
  private confirmed = false;
  private chosen = false;
  private probing: Promise<number> | undefined;
  private failed: { at: number; error: NoHostError } | undefined;
  private readonly listeners = new Set<SwitchListener>();

  constructor(url: string) {
    this.url = parseDatabaseUrl(url);
  }

  onSwitch(listener: SwitchListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** A connection failed or was cut: the next connection probes the hosts again. */
  suspect(): void {
    this.confirmed = false;
  }

  /** The host a new connection should use. */
  pick(): Promise<number> {
    if (this.confirmed) return Promise.resolve(this.good);
    if (this.failed && Date.now() - this.failed.at < FAILED_PROBE_REUSE_MS) return Promise.reject(this.failed.error);
    // Connections made at the same moment share one probe.
    this.probing ??= this.probe().finally(() => { this.probing = undefined; });
    return this.probing;
  }

  /** Host `i` gave a session of the kind wanted (a probe, or a connection checked). */
  confirm(i: number): void {
    this.failed = undefined;
    if (!this.chosen || i !== this.good) {
      const from = this.chosen ? this.url.label(this.good) : undefined;
      this.good = i;
      this.chosen = true;
      for (const l of this.listeners) l(this.url.label(i), from);
    }
    this.confirmed = true;
  }

  /** Whether a session on host `i` is of the kind wanted; throws NoHostError when not. */
  check(i: number, session: Session): void {
    // prefer-standby takes any server once the probe found no standby.
    if (this.url.attrs === 'prefer-standby' || accepts(this.url.attrs, session)) return;
    this.suspect();
    throw new NoHostError(`${this.url.label(i)} is ${describe(session)} now, not ${this.url.attrs}`);
  }

  private async probe(): Promise<number> {
    const n = this.url.hosts.length;
    const order = Array.from({ length: n }, (_, k) => (this.good + k) % n);
    const reasons: string[] = [];
    let fallback: number | undefined;
    for (const i of order) {
      try {
        const session = await probeHost(this.url.hostUrl(i));
        if (accepts(this.url.attrs === 'prefer-standby' ? 'standby' : this.url.attrs, session)) { this.confirm(i); return i; }
        if (this.url.attrs === 'prefer-standby') fallback ??= i;
        reasons.push(`${this.url.label(i)}: ${describe(session)}`);
      } catch (err) {
        reasons.push(`${this.url.label(i)}: ${(err as Error).message}`);
      }
    }
    if (fallback !== undefined) { this.confirm(fallback); return fallback; }
    const error = new NoHostError(`no host accepts ${this.url.attrs} sessions (${reasons.join('; ')})`);
    this.failed = { at: Date.now(), error };
    throw error;
  }
}

/** One short connection to `url`: what kind of server is it? */
async function probeHost(url: string): Promise<Session> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: PROBE_TIMEOUT_MS, application_name: 'thalamus-probe' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const { rows } = await c.query<Session>(SESSION_SQL);
    return rows[0]!;
  } finally {
    await c.end().catch(() => undefined);
  }
}

type Callback = (err: Error | null, client?: pg.Client) => void;

/** Connects `client` to the host `target` picks, and checks the server it reached. */
async function connectPicked(target: Target, client: pg.Client, connect: () => Promise<unknown>): Promise<pg.Client> {
  const i = await target.pick();
  // The pool's connect timeout destroys the socket; it may have fired while the hosts were probed.
  if (client.connection.stream.destroyed) throw new NoHostError('the connection timed out while a host was chosen');
  const h = target.url.hosts[i]!;
  client.host = h.host;
  if (h.port !== undefined) client.port = h.port;
  try {
    await connect();
  } catch (err) {
    target.suspect();
    throw err;
  }
  try {
    target.check(i, (await client.query<Session>(SESSION_SQL)).rows[0]!);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  target.confirm(i);
  return client;
}

/** The node-postgres Client of a target: it connects to the host the target picks. */
function clientClass(target: Target): typeof pg.Client {
  return class TargetClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // A connection that breaks (the server stopped, a failover) makes the next one probe.
      this.on('error', () => target.suspect());
    }

    connect(): Promise<pg.Client>;
    connect(callback: Callback): void;
    connect(callback?: Callback): Promise<pg.Client> | void {
      const connecting = connectPicked(target, this, () => super.connect());
      if (!callback) return connecting;
      connecting.then(() => callback(null, this), (err: Error) => callback(err));
    }
  };
}

const targets = new Map<string, { target: Target; Client: typeof pg.Client }>();

/** The process's one target for `url` (its pools and clients share what it learns), or undefined for a plain URL. */
export function targetOf(url: string): { target: Target; Client: typeof pg.Client } | undefined {
  let entry = targets.get(url);
  if (!entry) {
    const target = new Target(url);
    if (!needsHostSelection(target.url)) return undefined;
    entry = { target, Client: clientClass(target) };
    targets.set(url, entry);
  }
  return entry;
}

/** What a pg.Pool for `url` needs: the URL itself, or the first host's URL and the Client that picks. */
export function poolTarget(url: string): Pick<pg.PoolConfig, 'connectionString'> & { Client?: typeof pg.Client } {
  const entry = targetOf(url);
  return entry ? { connectionString: entry.target.url.hostUrl(0), Client: entry.Client } : { connectionString: url };
}

/** A client (not yet connected) for `url`, picking its host when `url` names several. */
export function newClient(url: string, config: Omit<pg.ClientConfig, 'connectionString'> = {}): pg.Client {
  const entry = targetOf(url);
  return entry ? new entry.Client({ ...config, connectionString: entry.target.url.hostUrl(0) }) : new pg.Client({ ...config, connectionString: url });
}
