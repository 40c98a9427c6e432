// The values of etc/thalamus.cfg: upstream's `KEY = VALUE` syntax read line by line, each
// raw value turned into its type, and the bounds a key's row declares (lib/config.ts)
// checked, each failure a message naming what is wrong. Nothing here knows the keys.
import { resolve } from 'node:path';

export class ConfigError extends Error {}

export type Kind = 'string' | 'int' | 'bool' | 'size' | 'listen' | 'list' | 'path' | 'level' | 'regex';

/** What a number counts: said in the messages about its bounds (sizes in bytes are shown as KiB). */
export type Unit = 'bytes' | 'characters' | 'ms' | 'seconds' | 'days' | 'KiB';

export interface KeySpec<F extends string = string> {
  kind: Kind;
  /** The Config field it sets. */
  field: F;
  /** As it would be written in the file. */
  default: string;
  /** Smallest value accepted, in `unit` (a size in bytes, or characters). */
  min?: number;
  /** Largest value accepted. */
  max?: number;
  unit?: Unit;
  /** The only values a string accepts. */
  oneOf?: readonly string[];
  /** Another key this one's value must be at least, at most, or above (compared once every key is read). */
  atLeast?: string;
  atMost?: string;
  longerThan?: string;
  /** What else is wrong with the value (its items' syntax), or undefined. */
  check?: (value: unknown) => string | undefined;
  /** The key's former name, still read (with a warning) so existing files keep working. */
  renamedFrom?: string;
  /** A deprecated key (read into another one; the warning says how). */
  deprecated?: true;
}

/** The first item of a list that fails `ok`, as the message about it. */
export const everyItem = (ok: (item: string) => boolean, what: string) => (items: unknown) => {
  const bad = (items as string[]).find((item) => !ok(item));
  return bad === undefined ? undefined : `${JSON.stringify(bad)} is not ${what}`;
};

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Turns one raw value into its typed form, or says what is wrong with it. */
export function convert(spec: KeySpec, raw: string, base: string): unknown {
  switch (spec.kind) {
    case 'string': return raw;
    case 'path': return raw === '' ? '' : resolve(base, raw);
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new Error(`expected a whole number, got ${JSON.stringify(raw)}`);
      return Number(raw);
    }
    case 'bool': {
      if (/^(true|yes|on|1)$/i.test(raw)) return true;
      if (/^(false|no|off|0)$/i.test(raw)) return false;
      throw new Error(`expected True or False, got ${JSON.stringify(raw)}`);
    }
    case 'size': {
      const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(raw);
      if (!m) throw new Error(`expected a size such as 1048576 or "1MiB", got ${JSON.stringify(raw)}`);
      const unit = (m[2] ?? 'b').toLowerCase()[0];
      return Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit!]!;
    }
    case 'listen': {
      const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(raw);
      const port = m ? Number(m[2]) : -1;
      if (!m || port > 65535) throw new Error(`expected HOST:PORT, got ${JSON.stringify(raw)}`);
      return { host: m[1] || '127.0.0.1', port };
    }
    case 'list': return raw.split(/[\s,]+/).filter(Boolean);
    case 'regex': {
      try {
        return new RegExp(raw);
      } catch (err) {
        throw new Error(`not a valid regular expression: ${(err as Error).message}`);
      }
    }
    case 'level': {
      if (!LEVELS.includes(raw)) throw new Error(`expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    }
  }
}

/**
 * Reads a `KEY = VALUE` literal as upstream's Python config holds it: quoted string,
 * number, True/False, each optionally followed by a `# comment` (which may hold quotes).
 */
function literal(text: string): string {
  const q = /^(["'])((?:\\.|(?!\1)[^\\])*)\1\s*(#.*)?$/.exec(text);
  if (q) return q[2]!.replace(/\\(["'\\])/g, '$1');
  const bare = text.replace(/\s*#.*$/, '');
  if (/^-?\d+(\.\d+)?$/.test(bare) || /^(True|False)$/.test(bare)) return bare;
  throw new Error(`expected a quoted string, a number, True or False, got ${text}`);
}

/** Parses the text of a configuration file into raw values of the keys `known` accepts; errors name file and line. */
export function parseConfigLines(text: string, file: string, known: (key: string) => boolean): Map<string, { value: string; line: number }> {
  const out = new Map<string, { value: string; line: number }>();
  text.split(/\r?\n/).forEach((source, i) => {
    const line = source.replace(/^\s+|\s+$/g, '');
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new ConfigError(`${where}: expected KEY = VALUE`);
    const key = m[1]!;
    if (!known(key)) throw new ConfigError(`${where}: unknown key ${key}`);
    try {
      out.set(key, { value: literal(m[2]!), line: i + 1 });
    } catch (err) {
      throw new ConfigError(`${where}: ${key}: ${(err as Error).message}`);
    }
  });
  return out;
}

/** A number with its unit, as the messages about bounds say it: `1 KiB`, `1 second`, `100 ms`. */
function amount(n: number, unit: Unit | undefined): string {
  if (unit === 'bytes') return n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
  if (unit === 'seconds' || unit === 'days' || unit === 'characters') return `${n} ${n === 1 ? unit.slice(0, -1) : unit}`;
  return unit ? `${n} ${unit}` : String(n);
}

/** What is wrong with a converted value by its own bounds (min, max, oneOf, check), or undefined. */
export function outOfBounds(spec: KeySpec, value: unknown): string | undefined {
  if (spec.oneOf && !spec.oneOf.includes(value as string)) return `must be ${spec.oneOf.slice(0, -1).join(', ')} or ${spec.oneOf.at(-1)}`;
  if (typeof value === 'number') {
    const { min, max, unit } = spec;
    if (min !== undefined && max !== undefined && (value < min || value > max)) return `must be from ${min} to ${amount(max, unit)}`;
    if (min !== undefined && value < min) return `must be at least ${amount(min, unit)}`;
    if (max !== undefined && value > max) return `must be at most ${amount(max, unit)}`;
  }
  return spec.check?.(value);
}

/** What is wrong with a value compared with another key's (atLeast, atMost, longerThan), or undefined. */
export function outOfRelation(spec: KeySpec, value: number, valueOf: (key: string) => number): string | undefined {
  if (spec.atLeast && value < valueOf(spec.atLeast)) return `must be at least ${spec.atLeast} (${valueOf(spec.atLeast)})`;
  if (spec.atMost && value > valueOf(spec.atMost)) return `must be at most ${spec.atMost} (${valueOf(spec.atMost)})`;
  if (spec.longerThan && value <= valueOf(spec.longerThan)) return `must be longer than ${spec.longerThan} (${valueOf(spec.longerThan)})`;
  return undefined;
}
