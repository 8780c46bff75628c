/**
 * NumPy .npy / .npz arrays, parsed directly (format spec: numpy.lib.format). Little-endian,
 * C-order arrays of bool/int/uint/float; int64/uint64 come back as Float64Array (exact up to 2^53)
 * and float16 as Float32Array, so callers get plain JS typed arrays.
 */
import { ArrayFileError } from './array-error.js';
import { readZip, writeZip } from './zip.js';
import { ValueError } from '../errors.js';

export type NpyDType = 'bool' | 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float16' | 'float32' | 'float64';
export type NpyData = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface NdArray {
  /** The dtype stored in the file. */
  dtype: NpyDType;
  shape: number[];
  data: NpyData;
}

const DESCR: Record<string, NpyDType> = {
  b1: 'bool', u1: 'uint8', i1: 'int8', i2: 'int16', u2: 'uint16', i4: 'int32', u4: 'uint32',
  i8: 'int64', u8: 'uint64', f2: 'float16', f4: 'float32', f8: 'float64',
};
const SIZE: Record<NpyDType, number> = {
  bool: 1, uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float16: 2, float32: 4, float64: 8,
};

/** IEEE half → float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Decodes `count` little-endian elements of `dtype` from `bytes` (any alignment). */
export function decodeLE(bytes: Uint8Array, dtype: NpyDType, count: number): NpyData {
  // A copy (Buffer#slice would be a view): aligned, and owned by the result.
  const copy = new Uint8Array(bytes.subarray(0, count * SIZE[dtype]));
  const buf = copy.buffer;
  switch (dtype) {
    case 'bool':
    case 'uint8': return new Uint8Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'uint16': return new Uint16Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'uint32': return new Uint32Array(buf);
    case 'float32': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'int64': return Float64Array.from(new BigInt64Array(buf), Number);
    case 'uint64': return Float64Array.from(new BigUint64Array(buf), Number);
    case 'float16': return Float32Array.from(new Uint16Array(buf), halfToFloat);
  }
}

/** Parses one .npy file. */
export function parseNpy(bytes: Uint8Array, file = 'npy'): NdArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) throw new ArrayFileError(file, 'not a .npy file: expected the magic \\x93NUMPY at offset 0');
  const major = bytes[6]!;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [hlen, hstart] = major === 1 ? [v.getUint16(8, true), 10] : [v.getUint32(8, true), 12];
  if (hstart + hlen > bytes.length) throw new ArrayFileError(file, `truncated .npy header: expected ${hlen} header bytes`);
  const header = Buffer.from(bytes.subarray(hstart, hstart + hlen)).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new ArrayFileError(file, `bad .npy header ${JSON.stringify(header.trim())}`);
  const dtype = DESCR[descr.slice(1)];
  if (dtype === undefined || !'<|='.includes(descr[0]!) ) {
    throw new ArrayFileError(file, `unsupported dtype '${descr}': expected a little-endian bool, int, uint or float array`);
  }
  if (fortran === 'True') throw new ArrayFileError(file, 'Fortran-order arrays are not supported: save with np.ascontiguousarray');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const start = hstart + hlen;
  const need = count * SIZE[dtype];
  if (bytes.length - start < need) throw new ArrayFileError(file, `truncated data: expected ${need} bytes for shape [${shape.join(', ')}] ${dtype}, found ${bytes.length - start}`);
  return { dtype, shape, data: decodeLE(bytes.subarray(start), dtype, count) };
}

/** Parses a .npz archive into name (without `.npy`) → array. */
export function parseNpz(bytes: Uint8Array, file = 'npz'): Map<string, NdArray> {
  const out = new Map<string, NdArray>();
  for (const [name, content] of readZip(bytes, file)) {
    if (!name.endsWith('.npy')) continue;
    out.set(name.slice(0, -4), parseNpy(content, `${file}:${name}`));
  }
  return out;
}

const TYPED_DESCR: [NpyDType, string][] = [
  ['uint8', '|u1'], ['int8', '|i1'], ['int16', '<i2'], ['uint16', '<u2'], ['int32', '<i4'], ['uint32', '<u4'], ['float32', '<f4'], ['float64', '<f8'],
];

function dtypeOfData(data: NpyData): NpyDType {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Float32Array) return 'float32';
  return 'float64';
}

/** Encodes a typed array as a version-1 .npy file (dtype from the array type). */
export function encodeNpy(data: NpyData, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new ValueError(`encodeNpy: shape [${shape.join(', ')}] needs ${count} elements, got ${data.length}`);
  const descr = TYPED_DESCR.find(([d]) => d === dtypeOfData(data))![1];
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const h = Buffer.alloc(10);
  h.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  h.writeUInt16LE(header.length, 8);
  return Buffer.concat([h, Buffer.from(header, 'latin1'), new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Encodes arrays as an (uncompressed) .npz archive. */
export function encodeNpz(arrays: Record<string, { data: NpyData; shape: readonly number[] }>): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [k, a] of Object.entries(arrays)) entries[`${k}.npy`] = encodeNpy(a.data, a.shape);
  return writeZip(entries);
}
