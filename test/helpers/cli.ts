// Runs the real `thalamus` command, through its bin launcher (server/thalamus.js) as an
// operator would, with a chosen environment and standard input.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../lib/config.js';

export interface CliResult { code: number | null; stdout: string; stderr: string }

export interface CliOptions {
  /** Added to a small environment (PATH, HOME); DATABASE_URL names the database. */
  env?: Record<string, string | undefined>;
  /** Sent to standard input, then closed; without it stdin is closed at once (not a terminal). */
  input?: string | Buffer;
  timeoutMs?: number;
}

export const BIN = join(ROOT, 'server', 'thalamus.js');

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
    for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    child.stdin.end(opts.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
