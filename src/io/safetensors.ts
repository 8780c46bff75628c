/**
 * .safetensors files, parsed directly: an 8-byte little-endian header length N, N bytes of JSON
 * ({name: {dtype, shape, data_offsets: [begin, end]}, optional __metadata__}), then the raw
 * little-endian tensor bytes (offsets relative to the end of the header).
 */
import { ArrayFileError } from './array-error.js';
import { decodeLE, type NdArray, type NpyData, type NpyDType } from './npy.js';

const DTYPES: Record<string, NpyDType> = {
  BOOL: 'bool', U8: 'uint8', I8: 'int8', I16: 'int16', U16: 'uint16', I32: 'int32', U32: 'uint32', I64: 'int64', U64: 'uint64',
  F16: 'float16', F32: 'float32', F64: 'float64',
};
const SIZES: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8, F16: 2, BF16: 2, F32: 4, F64: 8 };

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function parseSafetensors(bytes: Uint8Array, file = 'safetensors'): Map<string, NdArray> {
  if (bytes.length < 8) throw new ArrayFileError(file, `too short for a .safetensors file (${bytes.length} bytes)`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(v.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new ArrayFileError(file, `header length ${n} exceeds the file size ${bytes.length}`);
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as typeof header;
  } catch (e) {
    throw new ArrayFileError(file, `bad JSON header: ${(e as Error).message}`);
  }
  const base = 8 + n;
  const out = new Map<string, NdArray>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = raw as HeaderEntry;
    const size = SIZES[e.dtype];
    if (size === undefined || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) throw new ArrayFileError(file, `tensor '${name}': bad header entry ${JSON.stringify(raw)}`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (end - begin !== count * size || base + end > bytes.length) {
      throw new ArrayFileError(file, `tensor '${name}': data_offsets [${begin}, ${end}] do not hold ${count} ${e.dtype} values inside the file`);
    }
    const slice = bytes.subarray(base + begin, base + end);
    let data: NpyData;
    let dtype: NpyDType;
    if (e.dtype === 'BF16') {
      // bfloat16 is the top half of a float32.
      const u = new Uint16Array(new Uint8Array(slice).buffer);
      const w = new Uint32Array(count);
      for (let i = 0; i < count; i++) w[i] = u[i]! << 16;
      data = new Float32Array(w.buffer);
      dtype = 'float32';
    } else {
      dtype = DTYPES[e.dtype]!;
      data = decodeLE(slice, dtype, count);
    }
    out.set(name, { dtype, shape: [...e.shape], data });
  }
  return out;
}

/** Writes float32 tensors as a .safetensors file (for tests and for exporting weights). */
export function encodeSafetensors(tensors: Record<string, { data: Float32Array; shape: readonly number[] }>): Uint8Array {
  const header: Record<string, HeaderEntry> = {};
  let off = 0;
  for (const [k, t] of Object.entries(tensors)) {
    header[k] = { dtype: 'F32', shape: [...t.shape], data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json, 'utf8'), ...Object.values(tensors).map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}
