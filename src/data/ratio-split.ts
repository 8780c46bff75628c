/** Seeded, stratified train/test split of raw images by ratio (every class keeps its share in both parts). */
import type { RawImages } from './idx.js';
import { deriveSeed, permutation } from './prng.js';
import { ValueError } from '../errors.js';

const SPLIT_STREAM = 0x5b17;

/** Samples at `indices` (in that order). */
export function selectRaw(raw: RawImages, indices: ArrayLike<number>): RawImages {
  const img = raw.channels * raw.height * raw.width;
  const pixels = new Uint8Array(indices.length * img);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    pixels.set(raw.pixels.subarray(i * img, (i + 1) * img), k * img);
    labels[k] = raw.labels[i]!;
  }
  return { ...raw, n: indices.length, pixels, labels };
}

/**
 * Puts round(testFraction × count) samples of each class (chosen by `seed`) into `test`, the rest
 * into `train`; both keep the original order.
 */
export function splitByRatio(raw: RawImages, testFraction: number, seed: number): { train: RawImages; test: RawImages } {
  if (!(testFraction > 0 && testFraction < 1)) throw new ValueError(`test fraction must be in (0, 1), got ${testFraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < raw.n; i++) {
    const l = raw.labels[i]!;
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  }
  const test: number[] = [];
  const train: number[] = [];
  for (const [label, idx] of byClass) {
    const perm = permutation(idx.length, deriveSeed(seed, label, SPLIT_STREAM));
    const k = Math.round(testFraction * idx.length);
    for (let j = 0; j < idx.length; j++) (j < k ? test : train).push(idx[perm[j]!]!);
  }
  const sorted = (xs: number[]) => Int32Array.from(xs).sort();
  return { train: selectRaw(raw, sorted(train)), test: selectRaw(raw, sorted(test)) };
}
