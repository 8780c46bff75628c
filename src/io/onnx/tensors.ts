/** TensorProto ↔ typed arrays: float weights (raw_data or float_data/double_data) and int64 shape constants. */
import { endianness } from 'node:os';
import { OnnxError } from './errors.js';
import { DATA_TYPE_NAMES, DataType, type TensorProto } from './proto.js';

const LITTLE = endianness() === 'LE';

export const dtypeName = (t: number | undefined): string => DATA_TYPE_NAMES[t ?? 0] ?? `type ${String(t)}`;

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

export function tensorDims(t: TensorProto): number[] {
  return [...(t.dims ?? [])];
}

function numelOf(t: TensorProto, what: string): number {
  const dims = tensorDims(t);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new OnnxError(`${what} has invalid dims ${fmt(dims)}`);
  }
  return dims.reduce((p, d) => p * d, 1);
}

function checkLocation(t: TensorProto, what: string): void {
  if (t.data_location === 1 || (t.external_data?.length ?? 0) > 0) {
    const loc = t.external_data?.find((e) => e.key === 'location')?.value;
    throw new OnnxError(
      `${what} keeps its data in an external file${loc !== undefined ? ` ('${loc}')` : ''}; external data is not supported: ` +
        'save the model with all tensors inside the .onnx file (onnx.save_model(model, path, save_as_external_data=False))',
    );
  }
  if (t.segment !== undefined) throw new OnnxError(`${what} is a segment of a larger tensor; segmented tensors are not supported`);
}

/** Copies `bytes` little-endian values into a fresh typed array of `n` elements of `size` bytes. */
function readRaw(raw: Uint8Array, n: number, size: number, what: string, type: string): DataView {
  if (raw.length !== n * size) {
    throw new OnnxError(`${what} has ${raw.length} bytes of raw_data, its dims need ${n * size} (${n} × ${type}); the file is truncated or corrupt`);
  }
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Float values of a FLOAT or DOUBLE tensor, as float32. `what` names the tensor in errors. */
export function tensorFloats(t: TensorProto, what: string): Float32Array {
  checkLocation(t, what);
  const n = numelOf(t, what);
  const type = t.data_type ?? 0;
  const raw = t.raw_data;
  if (type === DataType.FLOAT) {
    if (raw !== undefined && raw.length > 0) {
      if (LITTLE && raw.length === n * 4) {
        const copy = new Uint8Array(raw.length); // aligned, owned storage (raw is a view into the file)
        copy.set(raw);
        return new Float32Array(copy.buffer);
      }
      const dv = readRaw(raw, n, 4, what, 'float32');
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    const fd = t.float_data ?? [];
    if (fd.length !== n) throw new OnnxError(`${what} has ${fd.length} float values, its dims ${fmt(tensorDims(t))} need ${n}; the file is truncated or corrupt`);
    return Float32Array.from(fd);
  }
  if (type === DataType.DOUBLE) {
    if (raw !== undefined && raw.length > 0) {
      const dv = readRaw(raw, n, 8, what, 'float64');
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    const dd = t.double_data ?? [];
    if (dd.length !== n) throw new OnnxError(`${what} has ${dd.length} double values, its dims ${fmt(tensorDims(t))} need ${n}; the file is truncated or corrupt`);
    return Float32Array.from(dd);
  }
  throw new OnnxError(`${what} has data type ${dtypeName(type)}; metaprune reads float32 (or float64) weights only`);
}

/** Integer values of an INT64 or INT32 tensor (shapes, axes), or of a FLOAT tensor holding integers. */
export function tensorInts(t: TensorProto, what: string): number[] {
  checkLocation(t, what);
  const n = numelOf(t, what);
  const type = t.data_type ?? 0;
  const raw = t.raw_data;
  if (type === DataType.INT64) {
    if (raw !== undefined && raw.length > 0) {
      const dv = readRaw(raw, n, 8, what, 'int64');
      return Array.from({ length: n }, (_, i) => Number(dv.getBigInt64(8 * i, true)));
    }
    const d = t.int64_data ?? [];
    if (d.length !== n) throw new OnnxError(`${what} has ${d.length} int64 values, its dims need ${n}; the file is truncated or corrupt`);
    return [...d];
  }
  if (type === DataType.INT32) {
    if (raw !== undefined && raw.length > 0) {
      const dv = readRaw(raw, n, 4, what, 'int32');
      return Array.from({ length: n }, (_, i) => dv.getInt32(4 * i, true));
    }
    const d = t.int32_data ?? [];
    if (d.length !== n) throw new OnnxError(`${what} has ${d.length} int32 values, its dims need ${n}; the file is truncated or corrupt`);
    return [...d];
  }
  throw new OnnxError(`${what} has data type ${dtypeName(type)}; an integer (int64) tensor is needed here`);
}

/** Boolean-ish scalar (BOOL stored in int32_data or raw_data). */
export function tensorBool(t: TensorProto, what: string): boolean {
  checkLocation(t, what);
  if (t.data_type === DataType.BOOL || t.data_type === DataType.UINT8 || t.data_type === DataType.INT8) {
    const v = t.raw_data !== undefined && t.raw_data.length > 0 ? t.raw_data[0] : (t.int32_data ?? [0])[0];
    return v !== 0;
  }
  if (t.data_type === DataType.FLOAT || t.data_type === DataType.DOUBLE) return tensorFloats(t, what)[0] !== 0;
  return tensorInts(t, what)[0] !== 0;
}

/** A FLOAT TensorProto with raw_data (little-endian), as the ONNX writers of PyTorch and onnx.numpy_helper produce. */
export function floatTensorProto(name: string, dims: readonly number[], data: Float32Array | readonly number[]): TensorProto {
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  let raw: Uint8Array;
  if (LITTLE) {
    raw = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  } else {
    raw = new Uint8Array(f.length * 4);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < f.length; i++) dv.setFloat32(4 * i, f[i], true);
  }
  return { name, dims: [...dims], data_type: DataType.FLOAT, raw_data: raw };
}

/** An INT64 TensorProto (int64_data). */
export function int64TensorProto(name: string, dims: readonly number[], data: readonly number[]): TensorProto {
  return { name, dims: [...dims], data_type: DataType.INT64, int64_data: [...data] };
}
