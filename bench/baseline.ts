// The baseline: a bare node:http server with pg running the same statements as
// Thalamus for the benchmarked routes, with no authentication, logging, router or
// validation. What it reaches is the practical limit of this machine.
import http from 'node:http';
import pg from 'pg';

const PERSON = `SELECT (COALESCE(data, '{}'::jsonb) - 'password')::text AS j FROM people WHERE id = $1`;
const BOOK = `SELECT COALESCE(data, '{}'::jsonb)::text AS j FROM pols WHERE book = $1`;
const INSERT_PAGE = `INSERT INTO pols (id, book, data) VALUES ($1, $2, $3::jsonb) RETURNING COALESCE(data, '{}'::jsonb)::text AS j`;

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function startBaseline(databaseUrl: string, port: number, poolSize: number): Promise<http.Server> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  // The run's final DROP DATABASE ... WITH (FORCE) may reach a worker still stopping.
  pool.on('error', () => undefined);
  const server = http.createServer(async (req, res) => {
    try {
      const parts = (req.url ?? '/').split('?')[0]!.split('/');
      if (req.method === 'GET' && parts[1] === 'people' && parts.length === 3) {
        const { rows } = await pool.query<{ j: string }>(PERSON, [parts[2]]);
        return rows[0] ? send(res, 200, rows[0].j) : send(res, 404, '{}');
      }
      if (req.method === 'GET' && parts[1] === 'pols' && parts.length === 3) {
        const { rows } = await pool.query<{ j: string }>(BOOK, [parts[2]]);
        return send(res, 200, `[${rows.map((r) => r.j).join(',')}]`);
      }
      if (req.method === 'POST' && parts[1] === 'pols' && parts.length === 4) {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const data = { ...JSON.parse(Buffer.concat(chunks).toString('utf8')), id: parts[3], book: parts[2] };
        const { rows } = await pool.query<{ j: string }>(INSERT_PAGE, [parts[3], parts[2], JSON.stringify(data)]);
        return send(res, 201, rows[0]!.j);
      }
      send(res, 404, '{}');
    } catch {
      send(res, 500, '{}');
    }
  });
  server.on('close', () => void pool.end());
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
