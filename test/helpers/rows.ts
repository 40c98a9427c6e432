// Every row of the federation's five tables as one JSON text, to prove a refused
// request or a migration changed nothing.
import type pg from 'pg';

const TABLES = ['people', 'pols', 'personal_docs', 'dus', 'institutions'] as const;

export async function dumpRows(pool: pg.Pool): Promise<string> {
  const parts: string[] = [];
  for (const table of TABLES) {
    const { rows } = await pool.query<{ j: string | null }>(`SELECT json_agg(t ORDER BY t.id)::text AS j FROM ${table} t`);
    parts.push(`${table}: ${rows[0]?.j ?? '[]'}`);
  }
  return parts.join('\n');
}

/** The stored `data` of one row, or undefined when there is none. */
export async function storedData(pool: pg.Pool, table: (typeof TABLES)[number], id: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await pool.query<{ data: Record<string, unknown> }>(`SELECT data FROM ${table} WHERE id = $1`, [id]);
  return rows[0]?.data;
}
