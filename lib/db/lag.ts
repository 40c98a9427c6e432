// How far a hot standby lags behind its primary, in seconds, from WAL positions.
//
// The replay timestamp alone (now() - pg_last_xact_replay_timestamp()) is the age of the
// last transaction replayed, which on an idle primary grows for ever although the
// standby misses nothing. So the primary's WAL position is sampled too (every probe,
// with the time it was asked): a standby that has replayed up to a sample holds
// everything the primary had at that time. Its lag is then 0 when it has replayed the
// newest sample, else at most the age of the newest sample it has replayed, and at most
// the replay age (every transaction it misses committed after the last one it replayed);
// the smaller bound is taken. Without a sample (the primary unreachable), a standby that
// has replayed all it received counts as caught up.
/** A WAL position `X/Y` as a number. */
export function lsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

export interface WalSample { at: number; lsn: bigint }

export interface StandbyPosition {
  /** false: the server was promoted (it is a primary now, and lags nothing). */
  recovery: boolean;
  replayed: bigint | null;
  received: bigint | null;
  /** Seconds since the last transaction replayed was committed; null before the first. */
  replayAge: number | null;
}

export const PRIMARY_POSITION_SQL = 'SELECT pg_current_wal_lsn()::text AS lsn';

export const STANDBY_POSITION_SQL = `SELECT pg_is_in_recovery() AS recovery,
    (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS replayed,
    pg_last_wal_receive_lsn()::text AS received,
    EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age`;

export interface StandbyRow { recovery: boolean; replayed: string | null; received: string | null; replay_age: number | null }

export function positionOf(row: StandbyRow): StandbyPosition {
  return {
    recovery: row.recovery,
    replayed: row.replayed === null ? null : lsn(row.replayed),
    received: row.received === null ? null : lsn(row.received),
    replayAge: row.replay_age === null ? null : Math.max(0, row.replay_age),
  };
}

/** Lag in seconds at time `now` (ms), from `samples` (oldest first) and the standby's position. */
export function lagSeconds(samples: readonly WalSample[], standby: StandbyPosition, now: number): number {
  if (!standby.recovery) return 0;
  if (standby.replayed === null) return Infinity;
  const replayed = standby.replayed;
  const newest = samples[samples.length - 1];
  if (newest && replayed >= newest.lsn) return 0;
  let bound = Infinity;
  for (let i = samples.length - 1; i >= 0; i--) {
    if (samples[i]!.lsn <= replayed) { bound = Math.max(0, now - samples[i]!.at) / 1000; break; }
  }
  if (!newest) return standby.received !== null && replayed >= standby.received ? 0 : standby.replayAge ?? Infinity;
  return Math.min(bound, standby.replayAge ?? Infinity);
}
