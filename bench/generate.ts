// The data generator: N people with realistic demographics and k Pages of Life each,
// made inside PostgreSQL by INSERT ... SELECT generate_series in large batches (no
// rows cross the wire, so a million people take seconds, not minutes).
import type pg from 'pg';

/** Id of generated person `n` (1-based): upstream-style federation account ids. */
export function personIdOf(n: number): string {
  return `GEN${String(n).padStart(9, '0')}`;
}

/** Id of page `j` (1-based) of generated person `n`. */
export function pageIdOf(n: number, j: number): string {
  return `${personIdOf(n)}-P${j}`;
}

// SQL arrays picked from by a cheap hash of the row number, so runs are reproducible.
const pick = (values: string[], salt: number, seed = 'g') =>
  `(ARRAY[${values.map((v) => `'${v}'`).join(',')}])[1 + ((${seed} * ${salt}) % ${values.length})]`;

const NAMES = ['Ana', 'Cameron', 'Lucia', 'Mateo', 'Amina', 'Kwame', 'Sofia', 'Liam', 'Priya', 'Juan', 'Mei', 'Omar', 'Elena', 'Tomas', 'Aisha', 'Noah'];
const LASTNAMES = ['Betz', 'Cordara', 'Garcia', 'Okafor', 'Rossi', 'Nguyen', 'Silva', 'Kowalski', 'Haddad', 'Mensah', 'Fischer', 'Lopez', 'Tanaka', 'Dubois'];
const GENDERS = ['f', 'm', 'f', 'm', 'nb'];
const ETHNICITIES = ['latino', 'caucasian', 'african', 'asian', 'indigenous', 'arab'];
const EDUCATION = ['none', 'primary', 'secondary', 'tertiary'];
const MARITAL = ['single', 'married', 'divorced', 'widowed', 'concubinage'];
const PROFESSIONS = ['teacher', 'nurse', 'farmer', 'engineer', 'student', 'retired', 'driver', 'physician', 'cook', 'clerk'];
const CONTEXTS = ['birth', 'death', 'health_condition', 'encounter', 'genetics', 'social'];
const NODES = ['Milano General Hospital', 'Milano City Hall', 'Hospital de Clinicas', 'Community Clinic 7', 'Red Cross Outpost'];
/** One argon2id hash shared by every generated person (they are not meant to log in). */
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$wD4bQoB3p4jHiZHeyqdt3c1zKyHXZI8w9SLH3o4uFfE';

const PEOPLE_SQL = `INSERT INTO people (id, data)
  SELECT 'GEN' || lpad(g::text, 9, '0'), jsonb_build_object(
    'id', 'GEN' || lpad(g::text, 9, '0'),
    'name', ${pick(NAMES, 7919)}, 'lastname', ${pick(LASTNAMES, 104729)},
    'dob', (date '1930-01-01' + ((g * 2654435761) % 34000)::int)::text,
    'gender', ${pick(GENDERS, 31)}, 'biological_sex', ${pick(['f', 'm'], 17)},
    'ethnicity', ${pick(ETHNICITIES, 13)}, 'education', ${pick(EDUCATION, 11)},
    'marital_status', ${pick(MARITAL, 19)}, 'profession', ${pick(PROFESSIONS, 23)},
    'active', true, 'roles', '["end_user"]'::jsonb, 'password', '${HASH}',
    'federation_account', 'GEN' || lpad(g::text, 9, '0'))
  FROM generate_series($1::bigint, $2::bigint) g`;

const PAGES_SQL = `INSERT INTO pols (id, book, data)
  SELECT 'GEN' || lpad(g::text, 9, '0') || '-P' || j, 'GEN' || lpad(g::text, 9, '0'), jsonb_build_object(
    'id', 'GEN' || lpad(g::text, 9, '0') || '-P' || j, 'book', 'GEN' || lpad(g::text, 9, '0'),
    'page_type', CASE WHEN j % 3 = 0 THEN 'biographical' ELSE 'medical' END,
    'medical_context', ${pick(CONTEXTS, 37, '(g + j)')},
    'summary', 'Visit ' || j, 'info', 'Generated page of life number ' || j,
    'node', ${pick(NODES, 41, '(g + j)')}, 'relevance', 'important',
    'page_date', (date '2000-01-01' + ((g + j * 97) % 9000)::int)::text,
    'measurements', jsonb_build_array(jsonb_build_object('bp', jsonb_build_object('systolic', 100 + j % 40, 'diastolic', 60 + j % 30))),
    'creation_info', jsonb_build_object('user', 'GEN' || lpad(g::text, 9, '0'), 'timestamp', '2024-01-01T00:00:00', 'node', 'bench'))
  FROM generate_series($1::bigint, $2::bigint) g, generate_series(1, $3::int) j
  ON CONFLICT (id) DO NOTHING`;

export interface GenerateOptions {
  /** People numbered from `first` (default 1). */
  first?: number;
  /** Pages per person (default 0). */
  pages?: number;
  /** Rows per INSERT statement (default 100,000). */
  batch?: number;
}

/** Inserts people `first..first+count-1` (and their pages); returns how long it took in ms. */
export async function generatePeople(pool: pg.Pool, count: number, opts: GenerateOptions = {}): Promise<number> {
  const start = Date.now();
  const first = opts.first ?? 1;
  const batch = opts.batch ?? 100_000;
  const last = first + count - 1;
  for (let lo = first; lo <= last; lo += batch) {
    await pool.query(PEOPLE_SQL, [lo, Math.min(last, lo + batch - 1)]);
  }
  await generatePages(pool, first, last, opts.pages ?? 0, batch);
  return Date.now() - start;
}

/** Gives generated people `first..last` pages 1..`pages` (pages they have already stay). */
export async function generatePages(pool: pg.Pool, first: number, last: number, pages: number, batch = 100_000): Promise<void> {
  if (pages < 1) return;
  const perBatch = Math.max(1, Math.floor(batch / pages));
  for (let lo = first; lo <= last; lo += perBatch) {
    await pool.query(PAGES_SQL, [lo, Math.min(last, lo + perBatch - 1), pages]);
  }
}
