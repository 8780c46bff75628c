/**
 * Mini-batching, seeded shuffles, augmentation and sub-sampling over `Dataset`s. Every random
 * choice comes from the seeded PRNG in `prng.ts` (never Math.random), so a (seed, epoch) pair
 * always yields the same batches.
 */
import { ValueError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { Rng, deriveSeed, permutation } from './prng.js';

export interface Batch {
  /** n×C×H×W float32 images (a fresh array per batch: safe to keep or wrap). */
  x: Float32Array;
  /** n labels. */
  y: Int32Array;
  n: number;
  shape: [number, number, number, number];
  /** Dataset indices of the batch's samples, in batch order. */
  indices: Int32Array;
}

/**
 * Standard CIFAR augmentation: random crop back to H×W from the image zero-padded by `padding` on
 * each side (the padding value is 0 in normalized units, i.e. the channel mean), then a horizontal
 * flip with probability 1/2. Crop comes before flip, as in torchvision's RandomCrop + RandomHorizontalFlip.
 */
export interface AugmentOptions {
  /** Zero padding on each side before the random crop; 0 disables cropping. Default 4. */
  padding?: number;
  /** Random horizontal flip. Default true. */
  flip?: boolean;
}

export interface BatchOptions {
  /** Visit samples in a seeded random order (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffle and augmentation streams (default 0). */
  seed?: number;
  /** Epoch number mixed into the seed, so each epoch gets its own order for one `seed` (default 0). */
  epoch?: number;
  /** Drop the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** Apply random crop + flip (`true` = `{padding: 4, flip: true}`); default off. */
  augment?: boolean | AugmentOptions;
}

/** Stream tags keeping the shuffle and augmentation streams independent. */
const SHUFFLE_STREAM = 0x5f1e;
const AUGMENT_STREAM = 0xa06e;

/** Number of batches `batches()` yields. */
export function numBatches(n: number, batchSize: number, dropLast = false): number {
  checkBatchSize(batchSize);
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValueError(`batch size must be a positive integer, got ${batchSize}`);
}

/** The order in which `batches()` visits the samples of an epoch (a permutation of 0..n-1). */
export function epochOrder(n: number, opts: Pick<BatchOptions, 'shuffle' | 'seed' | 'epoch'> = {}): Int32Array {
  if (opts.shuffle !== true) {
    const o = new Int32Array(n);
    for (let i = 0; i < n; i++) o[i] = i;
    return o;
  }
  return permutation(n, deriveSeed(opts.seed ?? 0, opts.epoch ?? 0, SHUFFLE_STREAM));
}

/** Yields the mini-batches of one epoch. */
export function* batches(ds: Dataset, batchSize: number, opts: BatchOptions = {}): Generator<Batch, void, undefined> {
  checkBatchSize(batchSize);
  const { channels: c, height: h, width: w } = ds;
  const img = c * h * w;
  const order = epochOrder(ds.n, opts);
  const aug = resolveAugment(opts.augment);
  const rng = aug !== undefined ? new Rng(deriveSeed(opts.seed ?? 0, opts.epoch ?? 0, AUGMENT_STREAM)) : undefined;
  const count = numBatches(ds.n, batchSize, opts.dropLast ?? false);
  for (let b = 0; b < count; b++) {
    const start = b * batchSize;
    const n = Math.min(batchSize, ds.n - start);
    const x = new Float32Array(n * img);
    const y = new Int32Array(n);
    const indices = order.slice(start, start + n);
    for (let k = 0; k < n; k++) {
      const idx = indices[k]!;
      const src = ds.images.subarray(idx * img, (idx + 1) * img);
      if (aug !== undefined && rng !== undefined) {
        augmentImage(src, x.subarray(k * img, (k + 1) * img), c, h, w, aug, rng);
      } else {
        x.set(src, k * img);
      }
      y[k] = ds.labels[idx]!;
    }
    yield { x, y, n, shape: [n, c, h, w], indices };
  }
}

function resolveAugment(a: boolean | AugmentOptions | undefined): Required<AugmentOptions> | undefined {
  if (a === undefined || a === false) return undefined;
  const o = a === true ? {} : a;
  const padding = o.padding ?? 4;
  if (!Number.isInteger(padding) || padding < 0) throw new ValueError(`augment.padding must be a non-negative integer, got ${padding}`);
  return { padding, flip: o.flip ?? true };
}

/**
 * Writes one augmented C×H×W image into `dst`: crop offset (dy, dx) uniform in [-padding, padding]
 * (reading outside the source gives 0), then a horizontal flip with probability 1/2. Draws, in
 * order: dy, dx (only when padding > 0), flip (only when enabled).
 */
export function augmentImage(
  src: Float32Array,
  dst: Float32Array,
  channels: number,
  height: number,
  width: number,
  opts: Required<AugmentOptions>,
  rng: Rng,
): void {
  const p = opts.padding;
  const dy = p > 0 ? rng.int(2 * p + 1) - p : 0;
  const dx = p > 0 ? rng.int(2 * p + 1) - p : 0;
  const flip = opts.flip ? rng.bool() : false;
  const hw = height * width;
  for (let ch = 0; ch < channels; ch++) {
    const base = ch * hw;
    for (let yy = 0; yy < height; yy++) {
      const sy = yy + dy;
      const row = base + yy * width;
      if (sy < 0 || sy >= height) {
        dst.fill(0, row, row + width);
        continue;
      }
      const srow = base + sy * width;
      for (let xx = 0; xx < width; xx++) {
        const sx = (flip ? width - 1 - xx : xx) + dx;
        dst[row + xx] = sx >= 0 && sx < width ? src[srow + sx]! : 0;
      }
    }
  }
}

/** A new dataset made of the samples at `indices` (in that order); images and labels are copied. */
export function select(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const img = ds.channels * ds.height * ds.width;
  const n = indices.length;
  const images = new Float32Array(n * img);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const idx = indices[k]!;
    if (!Number.isInteger(idx) || idx < 0 || idx >= ds.n) throw new ValueError(`select: index ${idx} out of range 0..${ds.n - 1}`);
    images.set(ds.images.subarray(idx * img, (idx + 1) * img), k * img);
    labels[k] = ds.labels[idx]!;
  }
  return { ...ds, images, labels, n };
}

/** `n` samples drawn without replacement with a seeded choice, kept in dataset order. */
export function subset(ds: Dataset, n: number, seed: number): Dataset {
  if (!Number.isInteger(n) || n < 0 || n > ds.n) throw new ValueError(`subset: n must be an integer in 0..${ds.n}, got ${n}`);
  const chosen = permutation(ds.n, seed).slice(0, n).sort();
  return select(ds, chosen);
}

/**
 * Seeded held-out split: `nHeldOut` samples (chosen uniformly without replacement) go to
 * `heldOut`, the rest to `train`; both keep dataset order.
 */
export function split(ds: Dataset, nHeldOut: number, seed: number): { train: Dataset; heldOut: Dataset } {
  if (!Number.isInteger(nHeldOut) || nHeldOut < 0 || nHeldOut > ds.n) {
    throw new ValueError(`split: nHeldOut must be an integer in 0..${ds.n}, got ${nHeldOut}`);
  }
  const perm = permutation(ds.n, seed);
  const held = perm.slice(0, nHeldOut).sort();
  const rest = perm.slice(nHeldOut).sort();
  return { train: select(ds, rest), heldOut: select(ds, held) };
}

/** Number of samples of each class (length `numClasses`). */
export function classCounts(ds: Dataset): Int32Array {
  const counts = new Int32Array(ds.numClasses);
  for (let i = 0; i < ds.n; i++) counts[ds.labels[i]!] += 1;
  return counts;
}
