/**
 * Image datasets stored as NumPy arrays: a .npz with `x_train, y_train, x_test, y_test` (Keras
 * style) or `images, labels` (split by ratio later), or two .npy files (images, labels). Images
 * are uint8, N×H×W, N×H×W×C or N×C×H×W (C = 1 or 3); labels any integer type, 0..255.
 */
import { parseNpy, parseNpz, type NdArray } from '../io/npy.js';
import { DataError } from './errors.js';
import { readBytes } from './files.js';
import type { RawImages } from './idx.js';
import { toPlanar, transformImage, type ImageOptions } from './image-transform.js';

const INTEGER = new Set(['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

/** Builds raw images from an image array and a label array, checking dtypes and lengths. */
export function rawFromArrays(images: NdArray, labels: NdArray, where: { images: string; labels: string }, opts: ImageOptions = {}): RawImages {
  if (images.dtype !== 'uint8') {
    throw new DataError(`${where.images}: wrong dtype: expected uint8 images (0..255), found ${images.dtype}; convert with (x * 255).round().astype(np.uint8)`, { file: where.images });
  }
  if (!INTEGER.has(labels.dtype)) throw new DataError(`${where.labels}: wrong dtype: expected integer labels, found ${labels.dtype}`, { file: where.labels });
  if (labels.shape.length !== 1) throw new DataError(`${where.labels}: expected a 1-D label array, found shape [${labels.shape.join(', ')}]`, { file: where.labels });
  const s = images.shape;
  let layout: 'nhw' | 'nhwc' | 'nchw';
  if (s.length === 3) layout = 'nhw';
  else if (s.length === 4 && (s[3] === 1 || s[3] === 3)) layout = 'nhwc';
  else if (s.length === 4 && (s[1] === 1 || s[1] === 3)) layout = 'nchw';
  else throw new DataError(`${where.images}: expected images N×H×W, N×H×W×C or N×C×H×W with C = 1 or 3, found shape [${s.join(', ')}]`, { file: where.images });
  const n = s[0]!;
  if (labels.shape[0] !== n) {
    throw new DataError(`${where.labels}: mismatched lengths: ${labels.shape[0]} labels for ${n} images in ${where.images}`, { file: where.labels });
  }
  const lab = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i]!;
    if (v < 0 || v > 255) throw new DataError(`${where.labels}: label ${v} at index ${i}: expected 0..255`, { file: where.labels });
    lab[i] = v;
  }
  const [c, h, w] = layout === 'nhw' ? [1, s[1]!, s[2]!] : layout === 'nhwc' ? [s[3]!, s[1]!, s[2]!] : [s[1]!, s[2]!, s[3]!];
  const src = images.data as Uint8Array;
  let out: Uint8Array | undefined;
  let shape: [number, number, number] = [c, h, w];
  const interleaved = new Uint8Array(h * w * c);
  for (let i = 0; i < n; i++) {
    const base = i * c * h * w;
    if (layout === 'nchw') {
      for (let ch = 0; ch < c; ch++) for (let k = 0; k < h * w; k++) interleaved[k * c + ch] = src[base + ch * h * w + k]!;
    } else interleaved.set(src.subarray(base, base + c * h * w));
    const img = transformImage({ width: w, height: h, channels: c, data: interleaved }, opts, where.images);
    if (out === undefined) {
      shape = [img.channels, img.height, img.width];
      out = new Uint8Array(n * img.channels * img.height * img.width);
    }
    toPlanar(img, out, i * shape[0] * shape[1] * shape[2]);
  }
  return { n, channels: shape[0], height: shape[1], width: shape[2], pixels: out ?? new Uint8Array(0), labels: lab };
}

export interface ArrayImages {
  /** Present when the file holds both splits. */
  train?: RawImages;
  test?: RawImages;
  all?: RawImages;
}

/** Reads a .npz dataset (Keras-style splits, or `images` + `labels`). */
export function readNpzImages(file: string, opts: ImageOptions = {}): ArrayImages {
  const z = parseNpz(readBytes(file), file);
  const get = (k: string) => z.get(k);
  const at = (k: string) => `${file}:${k}`;
  if (get('x_train') && get('y_train') && get('x_test') && get('y_test')) {
    return {
      train: rawFromArrays(get('x_train')!, get('y_train')!, { images: at('x_train'), labels: at('y_train') }, opts),
      test: rawFromArrays(get('x_test')!, get('y_test')!, { images: at('x_test'), labels: at('y_test') }, opts),
    };
  }
  if (get('images') && get('labels')) return { all: rawFromArrays(get('images')!, get('labels')!, { images: at('images'), labels: at('labels') }, opts) };
  throw new DataError(`${file}: expected arrays x_train, y_train, x_test, y_test or images, labels; found ${[...z.keys()].join(', ') || 'none'}`, { file });
}

/** Reads an images .npy and a labels .npy. */
export function readNpyImages(imagesFile: string, labelsFile: string, opts: ImageOptions = {}): RawImages {
  return rawFromArrays(parseNpy(readBytes(imagesFile), imagesFile), parseNpy(readBytes(labelsFile), labelsFile), { images: imagesFile, labels: labelsFile }, opts);
}
