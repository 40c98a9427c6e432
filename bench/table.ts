// The one printed table: requests/s, p50 and p99 latency of Thalamus, of Thalamus on
// its old two-round-trip path (SINGLE_ROUND_TRIP = False) and of the baseline, all
// measured in the same run; the ratios of requests/s and of p99 to the baseline's.
import type { Measured } from './scenarios.js';

export interface Row {
  key: string;
  title: string;
  measured?: Measured;
  /** The same scenario on Thalamus with SINGLE_ROUND_TRIP = False. */
  old?: Measured;
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
  const head = ['', 'scenario', 'Thalamus', 'two round trips', 'baseline', 'ratio', 'p99 ratio', 'two round trips ratio', 'target'];
  const p99 = (r: Row, m?: Measured) => (m && r.base && r.base.p99 > 0 ? (m.p99 / r.base.p99).toFixed(2) : '-');
  const body = rows.map((r) => [
    `(${r.key})`, r.title,
    r.thalamus ?? (r.measured ? cell(r.measured) : '-'),
    r.old ? cell(r.old) : '-',
    r.baseline ?? (r.base ? cell(r.base) : '-'),
    r.ratio === undefined ? '-' : r.ratio.toFixed(2),
    p99(r, r.measured),
    r.old && r.base ? (r.old.rps / r.base.rps).toFixed(2) : '-',
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
