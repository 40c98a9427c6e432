// The one printed table: requests/s, p50 and p99 latency, and the ratio to the
// baseline measured in the same run.
import type { Measured } from './scenarios.js';

export interface Row {
  key: string;
  title: string;
  measured?: Measured;
  base?: Measured;
  /** Free-text cells, for the streamed listing. */
  thalamus?: string;
  baseline?: string;
  ratio?: number;
  target: string;
}

const cell = (m: Measured) =>
  `${Math.round(m.rps)} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms${m.errors || m.non2xx ? ` (${m.errors} errors, ${m.non2xx} non-2xx)` : ''}`;

export function printTable(rows: Row[], opts: { workers: number; connections: number; duration: number; people: number }): void {
  const head = ['', 'scenario', 'Thalamus', 'baseline', 'ratio', 'target'];
  const body = rows.map((r) => [
    `(${r.key})`, r.title,
    r.thalamus ?? (r.measured ? cell(r.measured) : '-'),
    r.baseline ?? (r.base ? cell(r.base) : '-'),
    r.ratio === undefined ? '-' : r.ratio.toFixed(2),
    r.target,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [
    `${opts.workers} workers, ${opts.connections} connections, ${opts.duration} s per run, ${opts.people} generated people`,
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
