/**
 * The json+bin tensor container behind every checkpoint: `<path>.json` (metadata and a tensor
 * table) and `<path>.bin` (little-endian float32 data). The .bin is written first and the .json
 * last, both atomically, so a crash leaves either the previous complete pair or the new one.
 * The .json records the .bin's byte length and sha256, so a .json never pairs with another run's
 * .bin; every loaded tensor is checked to be finite unless the caller allows otherwise.
 */
import { createHash } from 'node:crypto';
import { MetapruneError } from '../errors.js';
import { existsSync, readFileSync } from 'node:fs';
import { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';

export const TENSOR_FILE_VERSION = 1;

export class CheckpointError extends MetapruneError {
  constructor(file: string, problem: string) {
    super('checkpoint', `${file}: ${problem}`, { subject: file });
    this.name = 'CheckpointError';
  }
}

interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements into the .bin file. */
  offset: number;
}

interface TensorFileJson<M> {
  format: string;
  version: number;
  meta: M;
  tensors: TensorEntry[];
  binElements: number;
  /** Byte length and sha256 (hex) of the .bin (absent in files written before they were recorded). */
  binBytes?: number;
  binSha256?: string;
}

export interface LoadTensorOptions {
  /** Accept NaN/±Infinity values (default: refuse them, naming the tensor). */
  allowNonFinite?: boolean;
}

/** Index of the first NaN/±Infinity in `a`, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** Writes named tensors and JSON metadata under `<path>.json` + `<path>.bin`. */
export function saveTensorFile<M>(path: string, format: string, meta: M, tensors: Record<string, Tensor | Float32Array | Float64Array>): void {
  const entries: TensorEntry[] = [];
  let total = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const shape = t instanceof Tensor ? [...t.shape] : [t.length];
    const size = t instanceof Tensor ? t.size : t.length;
    entries.push({ name, shape, offset: total });
    total += size;
  }
  const bin = new Float32Array(total);
  for (const e of entries) {
    const t = tensors[e.name];
    bin.set(t instanceof Tensor ? t.data : t, e.offset);
  }
  const bytes = new Uint8Array(bin.buffer);
  writeFileAtomic(`${path}.bin`, bytes);
  const json: TensorFileJson<M> = {
    format, version: TENSOR_FILE_VERSION, meta, tensors: entries, binElements: total,
    binBytes: bytes.length, binSha256: sha256(bytes),
  };
  writeJsonAtomic(`${path}.json`, json);
}

export interface LoadedTensorFile<M> {
  meta: M;
  tensors: Record<string, Tensor>;
}

/** Reads and validates the .json of a pair (format, version, tensor table). */
function readTensorFileJson<M>(jsonPath: string, format: string): TensorFileJson<M> {
  if (!existsSync(jsonPath)) throw new CheckpointError(jsonPath, 'not found');
  let json: TensorFileJson<M>;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8')) as TensorFileJson<M>;
  } catch (e) {
    throw new CheckpointError(jsonPath, `not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError(jsonPath, `expected a JSON object with format '${format}', found ${json === null ? 'null' : Array.isArray(json) ? 'a list' : typeof json}`);
  if (json.format !== format) throw new CheckpointError(jsonPath, `expected format '${format}', found '${String(json.format)}'`);
  if (json.version !== TENSOR_FILE_VERSION) {
    throw new CheckpointError(jsonPath, `version ${String(json.version)} is not supported (this metaprune reads version ${TENSOR_FILE_VERSION})`);
  }
  if (!Array.isArray(json.tensors) || typeof json.binElements !== 'number') throw new CheckpointError(jsonPath, 'missing tensor table');
  return json;
}

/** The metadata of a json+bin pair, from the .json alone (no tensors read). */
export function readTensorFileMeta<M>(path: string, format: string): M {
  return readTensorFileJson<M>(`${path}.json`, format).meta;
}

/** The sha256 of a pair's .bin as recorded in its .json (undefined for files written before it was recorded). */
export function tensorFileHash(path: string): string | undefined {
  const h = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as { binSha256?: unknown };
  return typeof h.binSha256 === 'string' ? h.binSha256 : undefined;
}

/** Reads a json+bin pair, validating format, version and sizes with errors naming the file. */
export function loadTensorFile<M>(path: string, format: string, opts: LoadTensorOptions = {}): LoadedTensorFile<M> {
  const jsonPath = `${path}.json`;
  const binPath = `${path}.bin`;
  const json = readTensorFileJson<M>(jsonPath, format);
  if (!existsSync(binPath)) throw new CheckpointError(binPath, 'not found (the .json has no matching .bin)');
  const raw = readFileSync(binPath);
  const expected = json.binBytes ?? json.binElements * 4;
  if (raw.length !== expected || json.binElements * 4 !== expected) {
    throw new CheckpointError(binPath, `expected ${expected} bytes of float32 data, found ${raw.length}${raw.length < expected ? ' (truncated)' : ''}; the size is recorded in ${jsonPath}`);
  }
  if (json.binSha256 !== undefined && sha256(raw) !== json.binSha256) {
    throw new CheckpointError(binPath, `contents do not match the sha256 recorded in ${jsonPath}: the pair is corrupt or from different runs`);
  }
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const tensors: Record<string, Tensor> = {};
  for (const [i, e] of json.tensors.entries()) {
    checkTableEntry(jsonPath, i, e);
    const size = e.shape.reduce((p, d) => p * d, 1);
    if (e.offset < 0 || e.offset + size > all.length) throw new CheckpointError(jsonPath, `tensor '${e.name}' lies outside the .bin data`);
    const data = all.slice(e.offset, e.offset + size);
    const bad = opts.allowNonFinite ? -1 : firstNonFinite(data);
    if (bad >= 0) {
      throw new CheckpointError(binPath, `tensor '${e.name}' holds ${data[bad]} at element ${bad}; refusing non-finite weights (allow them with --allow-nonfinite)`);
    }
    tensors[e.name] = new Tensor(data, e.shape);
  }
  return { meta: json.meta, tensors };
}

/** A tensor-table entry must be {name, shape: non-negative integers, offset ≥ 0}, else its fields would be used blindly. */
function checkTableEntry(file: string, i: number, e: unknown): asserts e is TensorEntry {
  const ok = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const t = e as Partial<TensorEntry> | null;
  if (t === null || typeof t !== 'object' || typeof t.name !== 'string' || !Array.isArray(t.shape) || !t.shape.every(ok) || !ok(t.offset)) {
    throw new CheckpointError(file, `tensor table entry ${i} is ${JSON.stringify(e)?.slice(0, 80)}; expected {"name": string, "shape": [non-negative integers], "offset": non-negative integer}`);
  }
}

export function tensorFileExists(path: string): boolean {
  return existsSync(`${path}.json`) && existsSync(`${path}.bin`);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
