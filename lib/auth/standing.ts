// Whether principals verified earlier still stand, by the guard's rule (guard.ts: the same
// stored hash, the same roles, not deactivated, not locked out), for what outlives the
// request's first statement: a change stream or a long poll asks before each delivery,
// and the worker's open streams are swept every heartbeat. Checks asked for while none
// runs, or while one runs, are answered together by the next statement: one row per
// distinct principal, however many streams ask.
import type pg from 'pg';
import sql from 'sql-template-tag';
import { standsSql } from './guard.js';
import type { Verified } from './verified.js';

export interface StandingCheck {
  /** Resolves true while `p` stands as it was verified, checked in the database after the call. */
  stands(v: Verified): Promise<boolean>;
}

interface Pending { state: Verified; waiters: Array<{ resolve: (ok: boolean) => void; reject: (err: unknown) => void }> }

const keyOf = (v: Verified) => JSON.stringify([v.principal.id, v.hash, v.rolesJson, v.lockoutAddress]);

export function createStandingCheck(pool: pg.Pool): StandingCheck {
  let pending = new Map<string, Pending>();
  let running = false;
  let scheduled = false;

  function schedule(): void {
    if (running || scheduled) return;
    scheduled = true;
    // The rest of this turn's callers (a hub batch reaches every follower at once) join.
    setImmediate(() => { scheduled = false; void run(); });
  }

  async function run(): Promise<void> {
    if (running || !pending.size) return;
    running = true;
    const batch = [...pending.values()];
    pending = new Map();
    try {
      const states = batch.map((b) => b.state);
      const q = sql`SELECT ${standsSql(sql`t.account`, sql`t.hash`, sql`t.roles::jsonb`, sql`t.address`)} AS ok
        FROM unnest(${states.map((v) => v.principal.id)}::text[], ${states.map((v) => v.hash)}::text[],
          ${states.map((v) => v.rolesJson)}::text[], ${states.map((v) => v.lockoutAddress)}::text[])
          WITH ORDINALITY AS t(account, hash, roles, address, i)
        ORDER BY t.i`;
      const { rows } = await pool.query<{ ok: boolean }>(q.text, q.values);
      batch.forEach((b, i) => { for (const w of b.waiters) w.resolve(rows[i]?.ok === true); });
    } catch (err) {
      for (const b of batch) for (const w of b.waiters) w.reject(err);
    } finally {
      running = false;
      if (pending.size) schedule();
    }
  }

  return {
    stands(p) {
      return new Promise((resolve, reject) => {
        const key = keyOf(p);
        let entry = pending.get(key);
        if (!entry) { entry = { state: p, waiters: [] }; pending.set(key, entry); }
        entry.waiters.push({ resolve, reject });
        schedule();
      });
    },
  };
}
