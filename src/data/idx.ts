/**
 * Reader (and writer) of the IDX format used by MNIST and Fashion-MNIST.
 *
 * Layout (all integers big-endian): bytes 0–1 are zero, byte 2 is the element type code
 * (0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64), byte 3 is the number
 * of dimensions d; then d uint32 sizes; then the elements in row-major order. Files may be gzipped
 * (detected by the gzip magic, whatever the extension).
 */
import { ValueError } from '../errors.js';
import { DataError, formatError, hex32, hex8 } from './errors.js';
import { decodeMaybeGzip, firstExisting, gzipError, readBytes } from './files.js';

export type IdxDataType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxData {
  type: IdxDataType;
  dims: number[];
  data: IdxArray;
}

export interface IdxReadOptions {
  /** Required element type; another type code is reported as a bad magic. */
  expectType?: IdxDataType;
  /** Required number of dimensions (3 for images, 1 for labels). */
  expectDims?: number;
  /** Word used for the payload in error messages ("pixels", "labels"); default "data". */
  what?: string;
}

const TYPE_BY_CODE: ReadonlyMap<number, IdxDataType> = new Map<number, IdxDataType>([
  [0x08, 'uint8'],
  [0x09, 'int8'],
  [0x0b, 'int16'],
  [0x0c, 'int32'],
  [0x0d, 'float32'],
  [0x0e, 'float64'],
]);
const CODE_BY_TYPE: Readonly<Record<IdxDataType, number>> = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };
const SIZE_BY_TYPE: Readonly<Record<IdxDataType, number>> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };
const TYPE_LIST = '0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64';

/** Parses an (uncompressed) IDX buffer. `file` is only used in error messages. */
export function parseIdx(bytes: Uint8Array, file: string, opts: IdxReadOptions = {}): IdxData {
  const what = opts.what ?? 'data';
  if (bytes.length < 4) throw formatError(file, 'truncated', 0, '4-byte IDX magic', `${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw formatError(file, 'bad magic', 0, 'IDX magic 0x0000TTDD (two zero bytes, type code, dimension count)', hex32(magic));
  }
  const code = bytes[2]!;
  const type = TYPE_BY_CODE.get(code);
  if (type === undefined) throw formatError(file, 'bad magic', 2, `an IDX type code (${TYPE_LIST})`, hex8(code));
  if (opts.expectType !== undefined && type !== opts.expectType) {
    throw formatError(file, 'bad magic', 2, `type code ${hex8(CODE_BY_TYPE[opts.expectType])} (${opts.expectType}) for ${what}`, `${hex8(code)} (${type})`);
  }
  const nd = bytes[3]!;
  if (nd === 0) throw formatError(file, 'bad magic', 3, 'at least 1 dimension', '0');
  if (opts.expectDims !== undefined && nd !== opts.expectDims) {
    throw formatError(file, 'bad magic', 3, `${opts.expectDims} dimension${opts.expectDims === 1 ? '' : 's'} for ${what} (magic ${hex32((CODE_BY_TYPE[type] << 8) | opts.expectDims)})`, `${nd} (magic ${hex32(magic)})`);
  }
  const headerLen = 4 + 4 * nd;
  if (bytes.length < headerLen) {
    throw formatError(file, 'truncated', 4, `${4 * nd} bytes of dimension sizes`, `${bytes.length - 4}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < nd; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const elem = SIZE_BY_TYPE[type];
  const need = count * elem;
  const have = bytes.length - headerLen;
  if (have < need) throw formatError(file, 'truncated', headerLen, `${need} bytes of ${what}`, `${have}`);
  if (have > need) {
    throw formatError(file, 'unexpected trailing data', headerLen + need, `end of file after ${need} bytes of ${what} (dims ${dims.join('x')})`, `${have - need} more bytes`);
  }
  return { type, dims, data: decodeElements(bytes, view, headerLen, count, type) };
}

function decodeElements(bytes: Uint8Array, view: DataView, off: number, count: number, type: IdxDataType): IdxArray {
  switch (type) {
    case 'uint8':
      return bytes.slice(off, off + count);
    case 'int8':
      return new Int8Array(bytes.slice(off, off + count).buffer);
    case 'int16': {
      const a = new Int16Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getInt16(off + 2 * i, false);
      return a;
    }
    case 'int32': {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getInt32(off + 4 * i, false);
      return a;
    }
    case 'float32': {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getFloat32(off + 4 * i, false);
      return a;
    }
    case 'float64': {
      const a = new Float64Array(count);
      for (let i = 0; i < count; i++) a[i] = view.getFloat64(off + 8 * i, false);
      return a;
    }
  }
}

/**
 * Reads an IDX file, gzipped or not (detected by the gzip magic). A gzip stream that ends early is
 * reported like an uncompressed truncation (offsets are then in the decompressed stream).
 */
export function readIdxFile(file: string, opts: IdxReadOptions = {}): IdxData {
  const raw = readBytes(file);
  const r = decodeMaybeGzip(raw);
  if (!r.complete) {
    try {
      parseIdx(r.bytes, file, opts);
    } catch (e) {
      if (e instanceof DataError) {
        throw new DataError(`${e.message} (decompressed offsets; gzip stream ended early: ${r.gzipProblem ?? 'corrupt'})`, { file, ...(e.offset !== undefined ? { offset: e.offset } : {}) });
      }
      throw e;
    }
    throw gzipError(file, raw.length, r);
  }
  return parseIdx(r.bytes, file, opts);
}

/** Encodes an IDX buffer (uncompressed). Used by tests and tools. */
export function encodeIdx(idx: IdxData): Uint8Array {
  const { type, dims, data } = idx;
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new ValueError(`encodeIdx: dims ${dims.join('x')} need ${count} elements, got ${data.length}`);
  if (dims.length < 1 || dims.length > 255) throw new ValueError(`encodeIdx: 1..255 dimensions, got ${dims.length}`);
  const headerLen = 4 + 4 * dims.length;
  const elem = SIZE_BY_TYPE[type];
  const out = new Uint8Array(headerLen + count * elem);
  const view = new DataView(out.buffer);
  out[2] = CODE_BY_TYPE[type];
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = data[i]!;
    const o = headerLen + i * elem;
    switch (type) {
      case 'uint8': view.setUint8(o, v); break;
      case 'int8': view.setInt8(o, v); break;
      case 'int16': view.setInt16(o, v, false); break;
      case 'int32': view.setInt32(o, v, false); break;
      case 'float32': view.setFloat32(o, v, false); break;
      case 'float64': view.setFloat64(o, v, false); break;
    }
  }
  return out;
}

/** Raw uint8 images (N×H×W, one channel) with their labels. */
export interface RawImages {
  n: number;
  channels: number;
  height: number;
  width: number;
  /** N×C×H×W uint8 pixels. */
  pixels: Uint8Array;
  labels: Uint8Array;
}

/** Reads an idx3 uint8 image file and its idx1 uint8 label file, checking that the counts agree. */
export function readIdxImagesAndLabels(imagesFile: string, labelsFile: string): RawImages {
  const img = readIdxFile(imagesFile, { expectType: 'uint8', expectDims: 3, what: 'pixels' });
  const lab = readIdxFile(labelsFile, { expectType: 'uint8', expectDims: 1, what: 'labels' });
  const [n, h, w] = img.dims as [number, number, number];
  if (lab.dims[0] !== n) {
    throw formatError(labelsFile, 'label count mismatch', 4, `${n} labels (the image count of ${imagesFile})`, `${lab.dims[0]}`);
  }
  return { n, channels: 1, height: h, width: w, pixels: img.data as Uint8Array, labels: lab.data as Uint8Array };
}

/** The four files of an MNIST-style directory, for split prefix `train` or `t10k`. */
function idxCandidates(prefix: string, kind: 'images' | 'labels'): string[] {
  const d = kind === 'images' ? 3 : 1;
  const bases = [`${prefix}-${kind}-idx${d}-ubyte`, `${prefix}-${kind}.idx${d}-ubyte`];
  return bases.flatMap((b) => [b, `${b}.gz`]);
}

/** Locates and reads `train-*` and `t10k-*` IDX files (gzipped or not) in `dir`. */
export function readIdxDir(dir: string): { train: RawImages; test: RawImages } {
  const find = (prefix: string, kind: 'images' | 'labels'): string => {
    const names = idxCandidates(prefix, kind);
    const p = firstExisting(dir, names);
    if (p === undefined) throw new DataError(`${dir}: missing IDX file: expected one of ${names.join(', ')}`, { file: dir });
    return p;
  };
  const train = readIdxImagesAndLabels(find('train', 'images'), find('train', 'labels'));
  const testImages = find('t10k', 'images');
  const test = readIdxImagesAndLabels(testImages, find('t10k', 'labels'));
  if (train.height !== test.height || train.width !== test.width) {
    throw formatError(testImages, 'image size mismatch', 8, `${train.height}x${train.width} images like the train split`, `${test.height}x${test.width}`);
  }
  return { train, test };
}
