// Reading a new password: from standard input with --password-stdin (for scripts: the
// password never appears in the process list or the shell history), or typed twice at
// the terminal without echo.
import { CliError, usage } from './errors.js';

const MAX_INPUT = 4096;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_INPUT) throw new CliError(`the password on standard input is longer than ${MAX_INPUT} bytes`);
    chunks.push(chunk as Buffer);
  }
  // One trailing newline is the end of the line, not part of the password (`echo pw |`).
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** One line typed at the terminal, not echoed. */
function prompt(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    let typed = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err); else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new CliError('cancelled; nothing was changed'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The new password of `id`: from stdin, or asked twice at the terminal. */
export async function readNewPassword(id: string, fromStdin: boolean): Promise<string> {
  if (fromStdin) return readStdin();
  if (!process.stdin.isTTY) throw usage('no terminal to type the password at: pass it on standard input with --password-stdin');
  const first = await prompt(`New password for ${id}: `);
  const second = await prompt('Again: ');
  if (first !== second) throw new CliError('the two passwords differ; nothing was changed');
  return first;
}
