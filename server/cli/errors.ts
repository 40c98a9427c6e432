// Exit codes of the `thalamus` command, and the error that carries one. 78 is
// EX_CONFIG of sysexits.h, which the server already exits with on a bad configuration.

// 3: the command did its work but left some of it undone (an import that skipped lines),
// so that a script can tell "all of it" from "some of it" without reading the messages.
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3, config: 78 } as const;

/** A failure to report as `thalamus: <message>` (no stack) and exit with `code`. */
export class CliError extends Error {
  constructor(message: string, readonly code: number = EXIT.failed) {
    super(message);
  }
}

export const usage = (message: string) => new CliError(message, EXIT.usage);
