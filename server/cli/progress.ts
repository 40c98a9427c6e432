// A progress line on stderr for long work: rows and rows per second, redrawn at most
// four times a second, on a terminal only (a log file gets the closing summary alone).

export interface Progress {
  /** The total so far. */
  update(rows: number): void;
  /** Clears the line; returns the seconds since the start. */
  done(): number;
}

export function createProgress(verb: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const start = performance.now();
  let last = -Infinity; // the first update draws at once
  let shown = false;
  return {
    update(rows) {
      if (!stream.isTTY) return;
      const now = performance.now();
      if (now - last < 250) return;
      last = now;
      const rate = rows / Math.max((now - start) / 1000, 0.001);
      stream.write(`\r\x1b[K${verb} ${rows.toLocaleString('en-US')} rows, ${Math.round(rate).toLocaleString('en-US')} rows/s`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      return (performance.now() - start) / 1000;
    },
  };
}

/** `12,345 rows in 1.2 s (10,288 rows/s)`. */
export function rate(rows: number, seconds: number): string {
  return `${rows.toLocaleString('en-US')} rows in ${seconds.toFixed(1)} s (${Math.round(rows / Math.max(seconds, 0.001)).toLocaleString('en-US')} rows/s)`;
}
