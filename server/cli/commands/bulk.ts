// `thalamus export` and `thalamus import`: the federation as NDJSON (lib/bulk/), with
// a progress line on a terminal and a summary on stderr; stdout carries only the export.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { KindError, KIND_ORDER, countOf, parseKinds } from '../../../lib/bulk/kinds.js';
import { auditExport, exportNdjson, ExportAborted } from '../../../lib/bulk/export.js';
import { importNdjson, ImportRaced, ImportStopped, type ImportSummary } from '../../../lib/bulk/import.js';
import { CliError, EXIT, usage } from '../errors.js';
import { readConfig, withDatabase, operator, type Globals } from '../runtime.js';
import { passwordSettingsOf } from '../../../lib/auth/password-settings.js';
import { createProgress, rate } from '../progress.js';

function kindsOf(list: string | undefined) {
  try {
    return parseKinds(list);
  } catch (err) {
    if (err instanceof KindError) throw usage(`--kinds: ${err.message}`);
    throw err;
  }
}

function describe(summary: ImportSummary): string[] {
  const lines: string[] = [];
  for (const kind of KIND_ORDER) {
    const c = summary.kinds[kind];
    if (!c.inserted && !c.present) continue;
    const kept = c.differing ? ` (${c.differing} with other content, kept as stored)` : '';
    lines.push(`  ${countOf(kind, c.inserted)} imported, ${c.present} already there${kept}`);
  }
  return lines;
}

export function registerBulk(program: Command, globals: () => Globals): void {
  program.command('export')
    .description('write the federation as NDJSON, one record a line (password hashes included: keep it private)')
    .option('-k, --kinds <list>', `comma-separated kinds (${KIND_ORDER.join(', ')}); default all`)
    .option('-o, --output <file>', 'write to this file (created with mode 0600) instead of standard output')
    .action(async (opts: { kinds?: string; output?: string }) => {
      const kinds = kindsOf(opts.kinds);
      if (!opts.output && process.stdout.isTTY) throw usage('the export holds password hashes and would go to the terminal: redirect standard output or use --output FILE');
      const config = readConfig();
      const file: WriteStream | undefined = opts.output ? createWriteStream(opts.output, { mode: 0o600 }) : undefined;
      if (file) await once(file, 'open');
      const out = file ?? process.stdout;
      // lib/bulk/export.ts reports a failing destination while it writes; a late EPIPE is moot.
      out.on('error', () => undefined);
      const progress = createProgress('exported');
      const counts = await withDatabase(config, globals(), async (pool) => {
        await auditExport(pool, operator('cli export'), kinds);
        return exportNdjson(pool, out, { kinds, onProgress: progress.update });
      }).catch((err) => {
        progress.done();
        if (err instanceof ExportAborted) throw new CliError(`export stopped: ${err.message}`);
        throw err;
      });
      if (file) { file.end(); await once(file, 'close'); }
      const seconds = progress.done();
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      process.stderr.write(`exported ${kinds.map((k) => countOf(k, counts[k])).join(', ')}: ${rate(total, seconds)}\n`);
    });

  program.command('import [file]')
    .description('read NDJSON records (from the file, or standard input) into the federation; records already there are kept')
    .option('--strict', 'stop at the first bad line and import nothing (default: report it and skip it)')
    .action(async (path: string | undefined, opts: { strict?: boolean }) => {
      if (!path && process.stdin.isTTY) throw usage('give a file, or send the NDJSON to standard input (thalamus import < federation.ndjson)');
      const config = readConfig();
      const input = path ? createReadStream(path) : process.stdin;
      if (path) await once(input, 'open').catch((err: Error) => { throw new CliError(`cannot read ${path}: ${err.message}`); });
      const progress = createProgress('read');
      const note = (message: string) => { progress.done(); process.stderr.write(`${message}\n`); };
      let summary: ImportSummary;
      try {
        summary = await withDatabase(config, globals(), (pool) => importNdjson(pool, input, {
          rules: { personIdPattern: config.personIdPattern, recordIdPattern: config.recordIdPattern, hashBounds: passwordSettingsOf(config).bounds },
          strict: opts.strict,
          audit: operator('cli import'),
          onSkip: (line, why) => note(`line ${line}: ${why}; skipped`),
          onKept: (line, kind) => note(`line ${line}: this ${kind} exists with other content; the stored one is kept`),
          onProgress: progress.update,
        }));
      } catch (err) {
        progress.done();
        if (err instanceof ImportStopped) throw new CliError(`${err.message}; --strict: nothing was imported`);
        if (err instanceof ImportRaced) throw new CliError(`${err.message}: nothing was imported; run it again`);
        throw err;
      } finally {
        if (path) input.destroy();
      }
      const seconds = progress.done();
      const records = KIND_ORDER.reduce((n, k) => n + summary.kinds[k].inserted + summary.kinds[k].present, 0);
      process.stderr.write([
        `imported ${summary.lines.toLocaleString('en-US')} lines: ${rate(records, seconds)}${summary.skipped ? `, ${summary.skipped} skipped` : ''}`,
        ...describe(summary),
      ].join('\n') + '\n');
      // The good lines are in; the skipped ones are not: a script must not take that for success.
      if (summary.skipped) process.exitCode = EXIT.partial;
    });
}
