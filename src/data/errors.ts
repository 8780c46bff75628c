/**
 * Error type of the data layer. Every problem with a dataset file (bad magic, truncation, bad
 * label, size mismatch) is reported as a `DataError` whose message names the file, the byte offset
 * and what was expected, e.g.
 * `data/x.idx: truncated at offset 16: expected 47040000 bytes of pixels, found 1000`.
 */
import { MetapruneError } from '../errors.js';
export class DataError extends MetapruneError {
  /** The file (or directory) the problem is in, when there is one. */
  readonly file: string | undefined;
  /** Byte offset of the problem inside `file` (decompressed offset for gzipped files). */
  readonly offset: number | undefined;

  constructor(message: string, info: { file?: string; offset?: number } = {}) {
    super('data', message, { subject: info.file });
    this.name = 'DataError';
    this.file = info.file;
    this.offset = info.offset;
  }
}

/**
 * Builds the canonical message `${file}: ${problem} at offset ${offset}: expected ${expected}, found ${found}`.
 */
export function formatError(file: string, problem: string, offset: number, expected: string, found: string): DataError {
  return new DataError(`${file}: ${problem} at offset ${offset}: expected ${expected}, found ${found}`, { file, offset });
}

/** Formats a byte as `0x0d`. */
export function hex8(b: number): string {
  return `0x${(b & 0xff).toString(16).padStart(2, '0')}`;
}

/** Formats a 32-bit word as `0x00000803`. */
export function hex32(w: number): string {
  return `0x${(w >>> 0).toString(16).padStart(8, '0')}`;
}
