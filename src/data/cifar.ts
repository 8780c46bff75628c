/**
 * Readers of the CIFAR-10 and CIFAR-100 *binary* versions.
 *
 * CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`,
 * each a sequence of 3073-byte records: 1 label byte (0–9) then 3072 pixel bytes (1024 red, 1024
 * green, 1024 blue, each plane 32×32 row-major — already C×H×W). Class names: `batches.meta.txt`.
 *
 * CIFAR-100 (`cifar-100-binary/`): `train.bin` and `test.bin`, 3074-byte records: coarse label
 * (0–19), fine label (0–99), 3072 pixel bytes. Class names: `fine_label_names.txt`,
 * `coarse_label_names.txt`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, formatError } from './errors.js';
import { readBytes } from './files.js';
import type { RawImages } from './idx.js';

export type CifarVariant = 'cifar10' | 'cifar100';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = 3 * CIFAR_SIDE * CIFAR_SIDE;

export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_FINE_CLASSES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables',
  'household_electrical_devices', 'household_furniture', 'insects', 'large_carnivores', 'large_man-made_outdoor_things',
  'large_natural_outdoor_scenes', 'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people',
  'reptiles', 'small_mammals', 'trees', 'vehicles_1', 'vehicles_2',
];

/** Decoded CIFAR records: 3×32×32 uint8 images; `coarseLabels` only for CIFAR-100. */
export interface CifarRaw extends RawImages {
  coarseLabels?: Uint8Array;
}

/** Parses the records of one CIFAR binary file. `file` is only used in error messages. */
export function parseCifar(bytes: Uint8Array, file: string, variant: CifarVariant): CifarRaw {
  const nLabels = variant === 'cifar10' ? 1 : 2;
  const rec = nLabels + CIFAR_PIXELS;
  const recDesc = variant === 'cifar10' ? `${rec}-byte record (label + ${CIFAR_PIXELS} pixels)` : `${rec}-byte record (coarse label + fine label + ${CIFAR_PIXELS} pixels)`;
  if (bytes.length === 0) throw formatError(file, 'truncated', 0, `at least one ${recDesc}`, 'an empty file');
  const n = Math.floor(bytes.length / rec);
  const rest = bytes.length - n * rec;
  if (rest !== 0) throw formatError(file, 'truncated', n * rec, `a ${recDesc}`, `${rest} bytes`);
  const pixels = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint8Array(n);
  const coarse = variant === 'cifar100' ? new Uint8Array(n) : undefined;
  const fineMax = variant === 'cifar10' ? 9 : 99;
  for (let i = 0; i < n; i++) {
    const o = i * rec;
    if (coarse !== undefined) {
      const c = bytes[o]!;
      if (c > 19) throw formatError(file, `bad coarse label in record ${i}`, o, 'a coarse label in 0..19', `${c}`);
      coarse[i] = c;
    }
    const l = bytes[o + nLabels - 1]!;
    if (l > fineMax) {
      throw formatError(file, `bad ${variant === 'cifar100' ? 'fine ' : ''}label in record ${i}`, o + nLabels - 1, `a label in 0..${fineMax}`, `${l}`);
    }
    labels[i] = l;
    pixels.set(bytes.subarray(o + nLabels, o + rec), i * CIFAR_PIXELS);
  }
  const out: CifarRaw = { n, channels: 3, height: CIFAR_SIDE, width: CIFAR_SIDE, pixels, labels };
  if (coarse !== undefined) out.coarseLabels = coarse;
  return out;
}

/** Reads one CIFAR binary file. */
export function readCifarFile(file: string, variant: CifarVariant): CifarRaw {
  return parseCifar(readBytes(file), file, variant);
}

/** Concatenates decoded batches (in the given order). */
export function concatCifar(parts: readonly CifarRaw[]): CifarRaw {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const pixels = new Uint8Array(n * CIFAR_PIXELS);
  const labels = new Uint8Array(n);
  const hasCoarse = parts.length > 0 && parts.every((p) => p.coarseLabels !== undefined);
  const coarse = hasCoarse ? new Uint8Array(n) : undefined;
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * CIFAR_PIXELS);
    labels.set(p.labels, at);
    if (coarse !== undefined && p.coarseLabels !== undefined) coarse.set(p.coarseLabels, at);
    at += p.n;
  }
  const out: CifarRaw = { n, channels: 3, height: CIFAR_SIDE, width: CIFAR_SIDE, pixels, labels };
  if (coarse !== undefined) out.coarseLabels = coarse;
  return out;
}

/** Uses `dir` itself or its standard sub-directory (`cifar-10-batches-bin`, `cifar-100-binary`). */
function resolveDir(dir: string, marker: string, sub: string): string | undefined {
  if (existsSync(join(dir, marker))) return dir;
  if (existsSync(join(dir, sub, marker))) return join(dir, sub);
  return undefined;
}

/** Reads newline-separated class names, or returns `fallback` when the file is absent or has the wrong count. */
function readNames(file: string, count: number, fallback: readonly string[]): readonly string[] {
  if (!existsSync(file)) return fallback;
  const names = readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  return names.length === count ? names : fallback;
}

export interface Cifar10Files {
  train: CifarRaw;
  test: CifarRaw;
  classNames: readonly string[];
}

/** Reads CIFAR-10 from `dir` (or `dir/cifar-10-batches-bin`): all five train batches and the test batch. */
export function readCifar10Dir(dir: string): Cifar10Files {
  const root = resolveDir(dir, 'test_batch.bin', 'cifar-10-batches-bin');
  const expected = 'data_batch_1.bin … data_batch_5.bin and test_batch.bin (the binary version, not the Python pickles)';
  if (root === undefined) throw new DataError(`${dir}: no CIFAR-10 binary files found: expected ${expected}`, { file: dir });
  const parts: CifarRaw[] = [];
  for (let b = 1; b <= 5; b++) {
    const f = join(root, `data_batch_${b}.bin`);
    if (!existsSync(f)) throw new DataError(`${f}: missing CIFAR-10 train batch: expected ${expected}`, { file: f });
    parts.push(readCifarFile(f, 'cifar10'));
  }
  return {
    train: concatCifar(parts),
    test: readCifarFile(join(root, 'test_batch.bin'), 'cifar10'),
    classNames: readNames(join(root, 'batches.meta.txt'), 10, CIFAR10_CLASSES),
  };
}

export interface Cifar100Files {
  train: CifarRaw;
  test: CifarRaw;
  fineClassNames: readonly string[];
  coarseClassNames: readonly string[];
}

/** Reads CIFAR-100 from `dir` (or `dir/cifar-100-binary`): `train.bin` and `test.bin`. */
export function readCifar100Dir(dir: string): Cifar100Files {
  const root = resolveDir(dir, 'test.bin', 'cifar-100-binary');
  if (root === undefined) throw new DataError(`${dir}: no CIFAR-100 binary files found: expected train.bin and test.bin`, { file: dir });
  const trainFile = join(root, 'train.bin');
  if (!existsSync(trainFile)) throw new DataError(`${trainFile}: missing CIFAR-100 train file: expected train.bin and test.bin`, { file: trainFile });
  return {
    train: readCifarFile(trainFile, 'cifar100'),
    test: readCifarFile(join(root, 'test.bin'), 'cifar100'),
    fineClassNames: readNames(join(root, 'fine_label_names.txt'), 100, CIFAR100_FINE_CLASSES),
    coarseClassNames: readNames(join(root, 'coarse_label_names.txt'), 20, CIFAR100_COARSE_CLASSES),
  };
}
