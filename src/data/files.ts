/**
 * File helpers shared by the readers: reading a file that may be gzipped (detected by the gzip
 * magic 1f 8b, not by the extension), with errors turned into `DataError`s naming the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { DataError } from './errors.js';

/** True when `bytes` starts with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads a whole file, throwing a `DataError` that names it when it cannot be read. */
export function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String((e as Error).message);
    throw new DataError(`${file}: cannot read file: ${why}`, { file });
  }
}

/**
 * Result of reading a possibly-gzipped file. `complete` is false when the gzip stream was cut
 * short or corrupt: `bytes` then holds what could be decompressed and `gzipProblem` says why.
 */
export interface MaybeGzipBytes {
  bytes: Uint8Array;
  gzipped: boolean;
  complete: boolean;
  gzipProblem?: string;
}

/** Decompresses `raw` if it is gzip; on a broken stream returns the recoverable prefix. */
export function decodeMaybeGzip(raw: Uint8Array): MaybeGzipBytes {
  if (!isGzip(raw)) return { bytes: raw, gzipped: false, complete: true };
  try {
    return { bytes: gunzipSync(raw), gzipped: true, complete: true };
  } catch (e) {
    const problem = String((e as Error).message);
    let partial: Uint8Array = new Uint8Array(0);
    try {
      partial = gunzipSync(raw, { finishFlush: constants.Z_SYNC_FLUSH });
    } catch {
      // Corrupt rather than truncated: nothing recoverable.
    }
    return { bytes: partial, gzipped: true, complete: false, gzipProblem: problem };
  }
}

/**
 * Reads `file`, gunzipping it when it starts with the gzip magic. A broken gzip stream throws a
 * `DataError` naming the file and the compressed offset where the stream ended.
 */
export function readMaybeGzip(file: string): Uint8Array {
  const raw = readBytes(file);
  const r = decodeMaybeGzip(raw);
  if (!r.complete) throw gzipError(file, raw.length, r);
  return r.bytes;
}

export function gzipError(file: string, compressedLength: number, r: MaybeGzipBytes): DataError {
  return new DataError(
    `${file}: broken gzip stream at offset ${compressedLength} (compressed): expected a complete gzip member, ` +
      `found ${r.gzipProblem ?? 'corrupt data'} after ${r.bytes.length} decompressed bytes`,
    { file, offset: compressedLength },
  );
}

/** Returns the first of `dir/name` for `name` in `names` that exists, or undefined. */
export function firstExisting(dir: string, names: readonly string[]): string | undefined {
  for (const n of names) {
    const p = join(dir, n);
    if (existsSync(p)) return p;
  }
  return undefined;
}
