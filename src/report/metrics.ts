/**
 * Run-directory I/O on plain data: an append-only JSONL metrics log and atomic JSON/text writes.
 *
 * Crash safety:
 *  - every metrics record is serialised first and written with ONE `appendFileSync` call on an
 *    O_APPEND descriptor, so a crash cannot interleave or split records other than truncating the
 *    very last one; if a previous run left a truncated last line, the writer starts on a new line;
 *  - {@link readMetrics} skips unparsable lines (a truncated last line, or such a line left in the
 *    middle by a resumed run) instead of failing;
 *  - {@link writeJsonAtomic}/{@link writeTextAtomic} go through io/atomic.ts (exclusive temp file in
 *    the same directory, fsync, rename), so readers see either the old or the new file.
 */
import { MetapruneError } from '../errors.js';
import {
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

/** A JSON-compatible value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One parsed line of metrics.jsonl. `time` is an ISO-8601 timestamp added by the writer. */
export interface MetricsRecord {
  readonly time?: string;
  readonly [key: string]: JsonValue | undefined;
}

export interface MetricsWriterOptions {
  /** Clock for the `time` field (tests). Default: `() => new Date()`. */
  readonly now?: () => Date;
  /** fdatasync after every line (slower, survives power loss). Default false; `close()` always syncs. */
  readonly syncEachLine?: boolean;
}

/**
 * JSON.stringify replacer: bigint → number (or string when unsafe), non-finite numbers → null
 * (JSON has no NaN; readers treat null as missing), typed arrays → plain arrays.
 */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? Number(v) : v));
  }
  return value;
}

/** Serialises to JSON with the same conventions as the metrics writer (bigint/typed-array safe). */
export function toJson(value: unknown, indent?: number): string {
  const s = JSON.stringify(value, jsonReplacer, indent);
  return s === undefined ? 'null' : s;
}

/** Appends one JSON object per line (with an ISO `time` stamp) to a JSONL file. */
export class MetricsWriter {
  readonly file: string;
  private fd: number | undefined;
  private readonly now: () => Date;
  private readonly syncEachLine: boolean;

  constructor(file: string, options: MetricsWriterOptions = {}) {
    this.file = file;
    this.now = options.now ?? (() => new Date());
    this.syncEachLine = options.syncEachLine === true;
    mkdirSync(dirname(file), { recursive: true });
    // O_NOFOLLOW: a symlink planted at the log's name must not redirect the appends elsewhere
    this.fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o644);
    // A crashed previous writer may have left a partial last line: start on a fresh line so the
    // partial record stays a single (skippable) bad line instead of corrupting our first record.
    const size = fstatSync(this.fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(this.fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) appendFileSync(this.fd, '\n');
    }
  }

  /** Appends `record` plus `time` as one line. The writer's `time` wins over a `time` field in `record`. */
  write(record: Readonly<Record<string, unknown>>): void {
    if (this.fd === undefined) throw new MetapruneError('io', `MetricsWriter(${this.file}) is closed`);
    const time = this.now().toISOString();
    const obj: Record<string, unknown> = { time }; // keeps `time` as the first key
    Object.assign(obj, record);
    obj['time'] = time;
    const line = toJson(obj) + '\n';
    appendFileSync(this.fd, line);
    if (this.syncEachLine) safeSync(this.fd);
  }

  /** Flushes to disk and closes the file. Idempotent. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    safeSync(fd);
    closeSync(fd);
  }
}

function safeSync(fd: number): void {
  try {
    fsyncSync(fd);
  } catch {
    // fsync is best-effort (unsupported on some filesystems/pipes).
  }
}

export interface ReadMetricsOptions {
  /** Called for each line that is not a JSON object (1-based line number). */
  readonly onBadLine?: (lineNumber: number, text: string) => void;
}

/**
 * Reads a JSONL metrics file. Blank and unparsable lines (e.g. a line truncated by a crash) are
 * skipped; lines that parse to something other than an object are skipped too. A missing file
 * yields `[]` (a run that crashed before logging anything).
 */
export function readMetrics(file: string, options: ReadMetricsOptions = {}): MetricsRecord[] {
  if (!existsSync(file)) return [];
  const content = readFileSync(file, 'utf8');
  const out: MetricsRecord[] = [];
  const lines = content.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      options.onBadLine?.(i + 1, raw);
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      options.onBadLine?.(i + 1, raw);
      return;
    }
    out.push(parsed as MetricsRecord);
  });
  return out;
}

/**
 * Extracts `[x, y]` points from metrics records for charting. Records lacking a numeric `y` are
 * skipped unless `keepMissing` is set, in which case y becomes NaN (the chart then breaks the line).
 * `x` may be a key or a function (e.g. the record index).
 */
export function metricSeries(
  records: ReadonlyArray<MetricsRecord>,
  x: string | ((r: MetricsRecord, index: number) => number),
  y: string,
  options: { readonly filter?: (r: MetricsRecord) => boolean; readonly keepMissing?: boolean } = {},
): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  records.forEach((r, i) => {
    if (options.filter && !options.filter(r)) return;
    const xv = typeof x === 'function' ? x(r, i) : r[x];
    const yv = r[y];
    if (typeof xv !== 'number') return;
    if (typeof yv === 'number') out.push([xv, yv]);
    else if (options.keepMissing && (yv === null || yv === undefined)) out.push([xv, Number.NaN]);
  });
  return out;
}

/** Writes `content` to `path` atomically (see io/atomic.ts: exclusive temp file, fsync, rename). */
export function writeTextAtomic(path: string, content: string | Uint8Array): void {
  writeFileAtomic(path, content);
}

/** Writes `value` as pretty JSON (2-space indent, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeTextAtomic(path, toJson(value, 2) + '\n');
}
