// `thalamus serve`, `thalamus migrate`, `thalamus demo`: the server and its database.
import type { Command } from 'commander';
import { runPrimary } from '../../primary.js';
import { loadDemo, migrate, pendingMigrations } from '../../../lib/db/migrate.js';
import { readConfig, withDatabase, type Globals } from '../runtime.js';

export function registerServer(program: Command, globals: () => Globals): void {
  program.command('serve')
    .description('run the server: the primary and its workers (what `npm start` runs)')
    // The primary reads the configuration itself (exit 78 on an error) and exits on its own.
    .action(() => runPrimary({ dev: globals().dev }));

  program.command('migrate')
    .description('apply the migrations of sql/ that are not yet applied, and exit')
    .option('--dry-run', 'list the migrations that would be applied; change nothing')
    .action(async (opts: { dryRun?: boolean }) => {
      const config = readConfig();
      const names = await withDatabase(config, globals(), (pool) => (opts.dryRun ? pendingMigrations(pool) : migrate(pool)), { migrate: false });
      const verb = opts.dryRun ? 'would apply' : 'applied';
      process.stdout.write(names.length ? `${verb}: ${names.join(', ')}\n` : 'the database is up to date: nothing to apply\n');
    });

  program.command('demo')
    .description("load upstream's demo federation (records that exist are left as they are)")
    .action(async () => {
      const config = readConfig();
      await withDatabase(config, globals(), (pool) => loadDemo(pool));
      process.stdout.write('demo federation loaded\n');
    });
}
