// Test data made in SQL: big books of Pages of Life and accounts that may read them.
import type pg from 'pg';
import type { Account } from './http.js';
import { hashPassword } from '../../lib/auth/passwords.js';

/** Adds `count` pages of about `chars` characters each to `book` (created if missing), ids `<book>-<prefix><n>`. */
export async function addPages(pool: pg.Pool, book: string, count: number, chars: number, prefix = ''): Promise<void> {
  await pool.query(`INSERT INTO people (id, data) VALUES ($1::varchar, jsonb_build_object('id', $1::varchar, 'name', 'Big', 'lastname', 'Book'))
    ON CONFLICT (id) DO NOTHING`, [book]);
  await pool.query(`INSERT INTO pols (id, book, data)
    SELECT $1::varchar || '-' || $4::text || lpad(g::text, 5, '0'), $1::varchar, jsonb_build_object('id', $1::varchar || '-' || $4::text || lpad(g::text, 5, '0'),
      'book', $1::varchar, 'page_type', 'medical', 'info', repeat('x', $3))
    FROM generate_series(1, $2) g`, [book, count, chars, prefix]);
}

/** Health professionals (a global role: they may read any book) sharing one password. */
export async function addReaders(pool: pg.Pool, accounts: Account[]): Promise<void> {
  const hash = await hashPassword(accounts[0]!.password);
  for (const a of accounts) {
    await pool.query(`INSERT INTO people (id, data) VALUES ($1::varchar, jsonb_build_object('id', $1::varchar, 'active', true,
      'roles', '["health_professional"]'::jsonb, 'password', $2::text))`, [a.user, hash]);
  }
}

/** `count` reader accounts READER01, READER02, ... */
export function readerAccounts(count: number): Account[] {
  return Array.from({ length: count }, (_, i) => ({ user: `READER${String(i + 1).padStart(2, '0')}`, password: 'reader-password' }));
}
