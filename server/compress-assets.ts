// Precompresses server/public for sirv: writes NAME.gz and NAME.br beside each asset
// (only when smaller). Run `npm run assets` after editing an asset and commit the
// results; `--check` exits 1 when a compressed copy is missing or stale (the tests run it).
import { readdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync, constants } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const COMPRESSED = /\.(gz|br)$/;

export interface CompressedAsset { file: string; plain: Buffer; bytes: Buffer }

/** The .gz and .br copies every asset in `dir` should have. */
export function expectedCopies(dir = PUBLIC_DIR): CompressedAsset[] {
  const out: CompressedAsset[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (COMPRESSED.test(name) || name.startsWith('.') || !statSync(path).isFile()) continue;
    const plain = readFileSync(path);
    const gz = gzipSync(plain, { level: 9 });
    const br = brotliCompressSync(plain, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: plain.length } });
    if (gz.length < plain.length) out.push({ file: `${path}.gz`, plain, bytes: gz });
    if (br.length < plain.length) out.push({ file: `${path}.br`, plain, bytes: br });
  }
  return out;
}

/** Whether the copy on disk decompresses to the asset (compressor versions may differ in bytes). */
function upToDate(c: CompressedAsset): boolean {
  if (!existsSync(c.file)) return false;
  const stored = readFileSync(c.file);
  try {
    return (c.file.endsWith('.gz') ? gunzipSync(stored) : brotliDecompressSync(stored)).equals(c.plain);
  } catch {
    return false;
  }
}

/** Copies that are missing or do not decompress to their asset. */
export function staleCopies(dir = PUBLIC_DIR): string[] {
  return expectedCopies(dir).filter((c) => !upToDate(c)).map((c) => c.file);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const stale = staleCopies();
    for (const f of stale) process.stderr.write(`stale or missing: ${f}\n`);
    process.exit(stale.length ? 1 : 0);
  }
  for (const c of expectedCopies()) {
    if (upToDate(c)) continue;
    writeFileSync(c.file, c.bytes);
    process.stdout.write(`wrote ${c.file} (${c.bytes.length} bytes)\n`);
  }
}
