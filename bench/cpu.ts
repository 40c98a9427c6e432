// Where the CPU goes: runs `npm run bench -- <args>` and, for each phase the bench
// announces on stderr ("bench: thalamus: (a) ..."), prints the CPU seconds (user +
// system, from /proc/<pid>/stat) each kind of process used during it: the Thalamus
// cluster, the baseline cluster, PostgreSQL's backends, the load generator (the bench
// process, which runs autocannon). On two shared cores these add up to the wall time
// twice over, so they say what each request costs each party.
//   npx tsx bench/cpu.ts                      # the full run
//   npx tsx bench/cpu.ts --only a,b --people 200000
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ROOT } from '../lib/config.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

type Snapshot = Map<string, { cpu: number; cmd: string }>;

function snapshot(): Snapshot {
  const out: Snapshot = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
      out.set(pid, { cpu, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

function kindOf(cmd: string): string {
  if (cmd.startsWith('postgres')) return 'postgres';
  if (cmd.includes('cluster.js thalamus')) return 'thalamus';
  if (cmd.includes('cluster.js baseline')) return 'baseline';
  if (cmd.includes('bench/run.ts')) return 'load generator';
  if (cmd.includes('psql')) return 'psql';
  return 'other';
}

let last = snapshot();
let lastAt = Date.now();
let phase = 'setup';

function report(next: string): void {
  const now = snapshot();
  const sums = new Map<string, number>();
  for (const [pid, p] of now) {
    const used = p.cpu - (last.get(pid)?.cpu ?? 0);
    if (used > 0) sums.set(kindOf(p.cmd), (sums.get(kindOf(p.cmd)) ?? 0) + used);
  }
  const wall = (Date.now() - lastAt) / 1000;
  const parts = [...sums].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v.toFixed(1)} s`);
  process.stderr.write(`cpu: ${phase} (${wall.toFixed(1)} s wall): ${parts.join(', ')}\n`);
  last = now;
  lastAt = Date.now();
  phase = next;
}

const child = spawn('npm', ['run', 'bench', '--', ...process.argv.slice(2)], { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
createInterface({ input: child.stderr! }).on('line', (line) => {
  process.stderr.write(`${line}\n`);
  if (line.startsWith('bench: ')) report(line.slice('bench: '.length));
});
child.on('exit', (code) => { report('end'); process.exit(code ?? 1); });
