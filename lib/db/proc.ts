// What a start-up needs to know about another process: whether it is alive, what it
// runs and who its parent is. From /proc on Linux, from ps(1) elsewhere.
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const HAS_PROC = existsSync('/proc/self/stat');

/** True while `pid` exists (EPERM: it does, as another user's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ps(pid: number, field: 'args' | 'ppid'): string | undefined {
  const r = spawnSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The command line of `pid`, or undefined when it is gone. */
export function argsOf(pid: number): string[] | undefined {
  if (!HAS_PROC) return ps(pid, 'args')?.split(/\s+/);
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** The parent process id of `pid`, or undefined when it is gone. */
export function parentOf(pid: number): number | undefined {
  if (!HAS_PROC) {
    const out = ps(pid, 'ppid');
    return out ? Number(out) : undefined;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
