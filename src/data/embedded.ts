/**
 * The embedded default dataset `fashion-mnist-14` and its on-disk format.
 *
 * `data/fashion-mnist-14.bin.gz` is the gzip of a "packed dataset" (format MPDS v1, all integers
 * little-endian uint32):
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | magic, ASCII `MPDS` |
 * | 4 | 4 | version = 1 |
 * | 8 | 4 | channels C |
 * | 12 | 4 | height H |
 * | 16 | 4 | width W |
 * | 20 | 4 | number of classes K |
 * | 24 | 4 | train count Ntr |
 * | 28 | 4 | test count Nte |
 * | 32 | Ntr·C·H·W | train pixels, uint8, N×C×H×W row-major |
 * | … | Ntr | train labels, uint8 in 0..K-1 |
 * | … | Nte·C·H·W | test pixels |
 * | … | Nte | test labels |
 *
 * The file must end exactly after the test labels. It is built by
 * `npx tsx tools/make-embedded-dataset.ts` (see data/README.md).
 */
import { ValueError } from '../errors.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError, formatError } from './errors.js';
import { decodeMaybeGzip, gzipError, readBytes } from './files.js';
import type { RawImages } from './idx.js';

export const EMBEDDED_NAME = 'fashion-mnist-14';
export const EMBEDDED_FILE = 'fashion-mnist-14.bin.gz';

export const PACKED_MAGIC = 'MPDS';
export const PACKED_VERSION = 1;
export const PACKED_HEADER_BYTES = 32;

/** Fashion-MNIST label names, index = label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** A two-split uint8 dataset as stored in the packed format. */
export interface PackedDataset {
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  train: RawImages;
  test: RawImages;
}

/** Serializes a packed dataset (uncompressed; gzip it for storage). */
export function encodePacked(p: PackedDataset): Uint8Array {
  const img = p.channels * p.height * p.width;
  for (const [name, s] of [['train', p.train], ['test', p.test]] as const) {
    if (s.pixels.length !== s.n * img || s.labels.length !== s.n) {
      throw new ValueError(`encodePacked: ${name} split needs ${s.n * img} pixels and ${s.n} labels, got ${s.pixels.length} and ${s.labels.length}`);
    }
    for (let i = 0; i < s.n; i++) {
      if (s.labels[i]! >= p.numClasses) throw new ValueError(`encodePacked: ${name} label ${s.labels[i]} at ${i} is not below numClasses ${p.numClasses}`);
    }
  }
  const total = PACKED_HEADER_BYTES + (p.train.n + p.test.n) * (img + 1);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = PACKED_MAGIC.charCodeAt(i);
  const header = [PACKED_VERSION, p.channels, p.height, p.width, p.numClasses, p.train.n, p.test.n];
  header.forEach((x, i) => v.setUint32(4 + 4 * i, x, true));
  let o = PACKED_HEADER_BYTES;
  for (const s of [p.train, p.test]) {
    out.set(s.pixels, o);
    o += s.pixels.length;
    out.set(s.labels, o);
    o += s.n;
  }
  return out;
}

/** Parses a packed dataset (uncompressed). `file` is only used in error messages. */
export function decodePacked(bytes: Uint8Array, file: string): PackedDataset {
  if (bytes.length < PACKED_HEADER_BYTES) {
    throw formatError(file, 'truncated', 0, `a ${PACKED_HEADER_BYTES}-byte ${PACKED_MAGIC} header`, `${bytes.length} bytes`);
  }
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== PACKED_MAGIC) throw formatError(file, 'bad magic', 0, `"${PACKED_MAGIC}"`, JSON.stringify(magic));
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (off: number): number => v.getUint32(off, true);
  const version = u32(4);
  if (version !== PACKED_VERSION) throw formatError(file, 'unsupported version', 4, `version ${PACKED_VERSION}`, `${version}`);
  const [channels, height, width, numClasses, nTrain, nTest] = [u32(8), u32(12), u32(16), u32(20), u32(24), u32(28)];
  if (channels < 1 || height < 1 || width < 1) throw formatError(file, 'bad image shape', 8, 'C, H, W ≥ 1', `${channels}x${height}x${width}`);
  if (numClasses < 1 || numClasses > 256) throw formatError(file, 'bad class count', 20, 'a class count in 1..256', `${numClasses}`);
  const img = channels * height * width;
  let o = PACKED_HEADER_BYTES;
  const split = (n: number, name: string): RawImages => {
    const need = n * img;
    if (bytes.length - o < need) throw formatError(file, 'truncated', o, `${need} bytes of ${name} pixels`, `${bytes.length - o}`);
    const pixels = bytes.slice(o, o + need);
    o += need;
    if (bytes.length - o < n) throw formatError(file, 'truncated', o, `${n} bytes of ${name} labels`, `${bytes.length - o}`);
    const labels = bytes.slice(o, o + n);
    for (let i = 0; i < n; i++) {
      if (labels[i]! >= numClasses) throw formatError(file, `bad ${name} label`, o + i, `a label in 0..${numClasses - 1}`, `${labels[i]}`);
    }
    o += n;
    return { n, channels, height, width, pixels, labels };
  };
  const train = split(nTrain, 'train');
  const test = split(nTest, 'test');
  if (o !== bytes.length) throw formatError(file, 'unexpected trailing data', o, 'end of file after the test labels', `${bytes.length - o} more bytes`);
  return { channels, height, width, numClasses, train, test };
}

/** Reads a packed dataset file, gzipped or not. */
export function readPackedFile(file: string): PackedDataset {
  const raw = readBytes(file);
  const r = decodeMaybeGzip(raw);
  if (!r.complete) throw gzipError(file, raw.length, r);
  return decodePacked(r.bytes, file);
}

/**
 * Directory of the package this module belongs to: walks up from this module's own location to
 * the first directory holding a `package.json` (works from `src/data/` under tsx and from the
 * compiled `dist/src/data/`).
 */
export function packageRoot(fromUrl: string = import.meta.url): string {
  const start = dirname(fileURLToPath(fromUrl));
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new DataError(`${start}: no package.json found in this directory or any parent`, { file: start });
    dir = up;
  }
}

/** Absolute path of the committed embedded dataset file. */
export function embeddedDatasetPath(): string {
  return join(packageRoot(), 'data', EMBEDDED_FILE);
}

/** Reads the embedded `fashion-mnist-14` dataset (or a packed file at `file`). */
export function readEmbedded(file: string = embeddedDatasetPath()): PackedDataset {
  return readPackedFile(file);
}

// ---- building blocks of tools/make-embedded-dataset.ts -------------------------------------------

/**
 * 2×2 average pooling of N single-channel H×W uint8 images (H, W even), rounded half up:
 * out = floor((a + b + c + d + 2) / 4).
 */
export function avgPool2x2(pixels: Uint8Array, n: number, height: number, width: number): Uint8Array {
  if (height % 2 !== 0 || width % 2 !== 0) throw new ValueError(`avgPool2x2: H and W must be even, got ${height}x${width}`);
  if (pixels.length !== n * height * width) throw new ValueError(`avgPool2x2: expected ${n * height * width} pixels, got ${pixels.length}`);
  const oh = height / 2;
  const ow = width / 2;
  const out = new Uint8Array(n * oh * ow);
  for (let i = 0; i < n; i++) {
    const src = i * height * width;
    const dst = i * oh * ow;
    for (let y = 0; y < oh; y++) {
      const r0 = src + 2 * y * width;
      const r1 = r0 + width;
      for (let x = 0; x < ow; x++) {
        const s = pixels[r0 + 2 * x]! + pixels[r0 + 2 * x + 1]! + pixels[r1 + 2 * x]! + pixels[r1 + 2 * x + 1]!;
        out[dst + y * ow + x] = (s + 2) >> 2;
      }
    }
  }
  return out;
}

/**
 * Indices (ascending, i.e. file order) of the first `perClass` examples of each class 0..K-1.
 * Throws when a class has fewer than `perClass` examples.
 */
export function firstPerClass(labels: Uint8Array, perClass: number, numClasses: number): Int32Array {
  const taken = new Int32Array(numClasses);
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < numClasses && taken[l]! < perClass) {
      taken[l] += 1;
      out.push(i);
    }
  }
  for (let c = 0; c < numClasses; c++) {
    if (taken[c]! < perClass) throw new ValueError(`firstPerClass: class ${c} has only ${taken[c]} examples, ${perClass} requested`);
  }
  return Int32Array.from(out);
}

/** Gathers the images and labels at `indices` from raw single-split data. */
export function gatherRaw(src: RawImages, indices: Int32Array): RawImages {
  const img = src.channels * src.height * src.width;
  const pixels = new Uint8Array(indices.length * img);
  const labels = new Uint8Array(indices.length);
  indices.forEach((idx, k) => {
    pixels.set(src.pixels.subarray(idx * img, (idx + 1) * img), k * img);
    labels[k] = src.labels[idx]!;
  });
  return { n: indices.length, channels: src.channels, height: src.height, width: src.width, pixels, labels };
}
