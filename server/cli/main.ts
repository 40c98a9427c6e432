// The `thalamus` command (server/thalamus.js starts it). commander parses the arguments:
// it is small, has no dependencies, is maintained, types itself, and gives every
// command and subcommand its --help, which citty and node:util parseArgs do not
// match as well for nested commands (`user add`). Exit codes: 0 ok, 1 failed, 2 usage,
// 78 configuration (server/cli/errors.ts).
import '../threadpool.js';
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../lib/config.js';
import { Command, CommanderError } from 'commander';
import { runClusterWorker } from '../cluster-worker.js';
import { CliError, EXIT } from './errors.js';
import { createCliLogger } from './log.js';
import type { Globals } from './runtime.js';
import { registerServer } from './commands/server.js';
import { registerConfig } from './commands/config.js';
import { registerUser } from './commands/user.js';
import { registerBulk } from './commands/bulk.js';

function buildProgram(): { program: Command; globals: () => Globals } {
  const program = new Command('thalamus')
    .description('GNU Health Federation message and authentication hub')
    .version((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version, '-V, --version')
    .option('-v, --verbose', 'log what happens (the embedded PostgreSQL starting, migrations) on stderr')
    .option('--dev', 'development: without a configured database, use the embedded PostgreSQL (never in production)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  let globals: Globals | undefined;
  const get = () => {
    if (!globals) {
      const { verbose, dev } = program.opts<{ verbose?: boolean; dev?: boolean }>();
      globals = { verbose: Boolean(verbose), dev: Boolean(dev), log: createCliLogger(Boolean(verbose)) };
    }
    return globals;
  };
  registerServer(program, get);
  registerConfig(program);
  registerUser(program, get);
  registerBulk(program, get);
  // Settings are copied to subcommands when they are made: make sure every one has them.
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride().showHelpAfterError('(add --help for usage)');
  return { program, globals: get };
}

async function main(argv: string[]): Promise<number | undefined> {
  const { program, globals } = buildProgram();
  try {
    await program.parseAsync(argv);
    // `serve` keeps running (its primary exits by itself); everything else is done, with
    // the code a command set (an import that skipped lines: EXIT.partial).
    return program.args[0] === 'serve' ? undefined : Number(process.exitCode ?? EXIT.ok);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are answers; anything else commander refuses is usage.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`thalamus: ${err.message}\n`);
      return err.code;
    }
    const e = err as Error;
    process.stderr.write(`thalamus: ${globals().verbose ? e.stack ?? e.message : e.message}\n`);
    return EXIT.failed;
  }
}

if (cluster.isWorker) {
  // A worker forked by `thalamus serve` runs this file again: it serves.
  runClusterWorker().catch((err) => {
    process.stderr.write(`thalamus: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  const code = await main(process.argv);
  if (code !== undefined) process.exit(code);
}
