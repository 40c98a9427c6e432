// Large binary parameters sent without copying them. node-postgres writes every Bind
// message into one buffer: a document of 10 MiB would be copied whole into it (and into
// each larger buffer as that one grows) while the upload's own buffer is still held. A
// ByteParts value is written as it is: PartsQuery builds the Bind message around it and
// hands its parts to the socket by reference, so the bytes are in memory once. The
// statement stays one extended-protocol round trip (Parse, Bind, Describe, Execute, Sync).
import pg from 'pg';

/** Bytes held in parts, sent to PostgreSQL as one binary (bytea) parameter, never joined. */
export class ByteParts {
  readonly length: number;
  constructor(readonly parts: readonly Buffer[]) {
    this.length = parts.reduce((n, p) => n + p.length, 0);
  }
}

export const hasParts = (values: readonly unknown[] | undefined): boolean => !!values?.some((v) => v instanceof ByteParts);

interface BindConfig {
  portal?: string;
  statement?: string;
  values?: unknown[];
  binary?: boolean;
  valueMapper: (value: unknown, index: number) => unknown;
}

interface Connection {
  stream: { writable: boolean; write(chunk: Buffer): boolean };
  bind(config: BindConfig): void;
}

const int16 = (n: number) => { const b = Buffer.allocUnsafe(2); b.writeInt16BE(n); return b; };
const int32 = (n: number) => { const b = Buffer.allocUnsafe(4); b.writeInt32BE(n); return b; };
const cstring = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);

/**
 * The Bind message as a list of buffers: the small fields in new buffers, the parts of
 * each ByteParts value as they are. The layout is node-postgres' own (pg-protocol's
 * serializer): text format for strings, binary for bytes, results in `binary` or text.
 */
export function bindPieces(config: BindConfig): Buffer[] {
  const values = config.values ?? [];
  const formats = Buffer.alloc(values.length * 2);
  const body: Buffer[] = [];
  values.forEach((value, i) => {
    const mapped = value instanceof ByteParts ? value : config.valueMapper(value, i);
    if (mapped == null) { body.push(int32(-1)); return; }
    if (mapped instanceof ByteParts || mapped instanceof Buffer) formats.writeInt16BE(1, i * 2);
    if (mapped instanceof ByteParts) { body.push(int32(mapped.length), ...mapped.parts); return; }
    const bytes = mapped instanceof Buffer ? mapped : Buffer.from(String(mapped), 'utf8');
    body.push(int32(bytes.length), bytes);
  });
  const fields = [cstring(config.portal ?? ''), cstring(config.statement ?? ''), int16(values.length), formats, int16(values.length), ...body, int16(1), int16(config.binary ? 1 : 0)];
  const length = 4 + fields.reduce((n, f) => n + f.length, 0);
  return [Buffer.from([0x42 /* 'B' */]), int32(length), ...fields];
}

/**
 * A pg.Query whose Bind message is written in pieces. Everything else (parsing, the
 * named-statement cache, results, errors, the pool's release) is node-postgres' own; the
 * socket is corked around the messages by Query.submit, so they leave in one write.
 */
export class PartsQuery<R extends pg.QueryResultRow = pg.QueryResultRow> extends pg.Query<R> {
  prepare(connection: Connection): void {
    const pieces: Connection = Object.create(connection, {
      bind: {
        value(config: BindConfig) {
          if (!connection.stream.writable) return;
          for (const piece of bindPieces(config)) connection.stream.write(piece);
        },
      },
    });
    (pg.Query.prototype as unknown as { prepare(c: Connection): void }).prepare.call(this, pieces);
  }
}
