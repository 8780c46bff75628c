/**
 * The `Dataset` type and `loadDataset`. Images are float32 N×C×H×W, normalized per channel with
 * the mean/std of the *train* split (in [0, 1] pixel units: x = (p/255 − mean_c) / std_c); the test
 * split uses the same statistics. The data layer works on plain typed arrays only: the training code
 * wraps batches into tensors.
 */
import { ValueError } from '../errors.js';
import { readCifar100Dir, readCifar10Dir } from './cifar.js';
import { DataError } from './errors.js';
import { EMBEDDED_NAME, FASHION_MNIST_CLASSES, readEmbedded } from './embedded.js';
import { readIdxDir, type RawImages } from './idx.js';
import { readImageFolder, splitFolders } from './folder.js';
import { readNpyImages, readNpzImages } from './arrays.js';
import { splitByRatio } from './ratio-split.js';
import type { ImageOptions } from './image-transform.js';

/** Per-channel normalization statistics, in [0, 1] pixel units. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/**
 * A labelled image dataset, the one type every reader returns and every trainer takes. Library
 * users with their own arrays build one with `fromRaw` (uint8 N×C×H×W pixels + labels), or fill
 * the fields directly: `images` holds n·channels·height·width floats, `labels` n integers.
 */
export interface Dataset {
  readonly name: string;
  /** N×C×H×W, normalized. */
  images: Float32Array;
  /** N labels in 0..numClasses-1. */
  labels: Int32Array;
  readonly n: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  /** Statistics `images` were normalized with (absent when not normalized). */
  readonly normalization?: Normalization;
}

export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
}

/**
 * `true` (default): normalize with the train split's per-channel mean/std; `false`: only scale
 * pixels to [0, 1]; an explicit `Normalization`: use those statistics.
 */
export type NormalizeOption = boolean | Normalization;

export type DatasetSpec =
  | typeof EMBEDDED_NAME
  | { kind: typeof EMBEDDED_NAME; file?: string; normalize?: NormalizeOption }
  | { kind: 'idx'; dir: string; name?: string; classNames?: readonly string[]; normalize?: NormalizeOption }
  | { kind: 'cifar10'; dir: string; normalize?: NormalizeOption }
  | { kind: 'cifar100'; dir: string; labels?: 'fine' | 'coarse'; normalize?: NormalizeOption }
  | ({ kind: 'folder'; dir: string } & UserDataOptions)
  | ({ kind: 'npz'; file: string } & UserDataOptions)
  | ({ kind: 'npy'; images: string; labels: string } & UserDataOptions);

/** Options of the user-data readers (image folders and NumPy arrays). */
export interface UserDataOptions {
  /** Color conversion, resize and center crop applied to every image. */
  image?: ImageOptions;
  /** Share of each class put in the test split when the data has no split of its own (default 0.2). */
  testFraction?: number;
  /** Seed of that split (default 0). */
  seed?: number;
  normalize?: NormalizeOption;
}

const DEFAULT_TEST_FRACTION = 0.2;

function splitUserData(raw: { train?: RawImages; test?: RawImages; all?: RawImages }, o: UserDataOptions): { train: RawImages; test: RawImages } {
  if (raw.train && raw.test) return { train: raw.train, test: raw.test };
  return splitByRatio(raw.all!, o.testFraction ?? DEFAULT_TEST_FRACTION, o.seed ?? 0);
}

function checkSameShape(a: RawImages, b: RawImages, where: string): void {
  if (a.channels !== b.channels || a.height !== b.height || a.width !== b.width) {
    throw new DataError(`${where}: train images are ${a.channels}×${a.height}×${a.width} but test images ${b.channels}×${b.height}×${b.width}: set resize/crop`, { file: where });
  }
}

/** Per-channel mean/std (population std) of uint8 N×C×H×W pixels, in [0, 1] units. */
export function computeStats(raw: RawImages): Normalization {
  const { n, channels: c } = raw;
  const hw = raw.height * raw.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    // Exact integer histogram: no float accumulation error even for 50k CIFAR images.
    const hist = new Float64Array(256);
    for (let i = 0; i < n; i++) {
      const base = (i * c + ch) * hw;
      for (let k = 0; k < hw; k++) hist[raw.pixels[base + k]!] += 1;
    }
    let count = 0;
    let s = 0;
    for (let v = 0; v < 256; v++) {
      count += hist[v]!;
      s += hist[v]! * v;
    }
    const m = count > 0 ? s / count : 0;
    let q = 0;
    for (let v = 0; v < 256; v++) q += hist[v]! * (v - m) * (v - m);
    const sd = count > 0 ? Math.sqrt(q / count) : 0;
    mean.push(m / 255);
    std.push(sd / 255);
  }
  return { mean, std };
}

/** Converts uint8 N×C×H×W pixels to float32 (p/255 − mean_c) / std_c (a zero std counts as 1). */
export function normalizePixels(raw: RawImages, stats: Normalization | undefined): Float32Array {
  const { n, channels: c } = raw;
  const hw = raw.height * raw.width;
  const out = new Float32Array(raw.pixels.length);
  for (let ch = 0; ch < c; ch++) {
    const m = stats?.mean[ch] ?? 0;
    const sdRaw = stats?.std[ch] ?? 1;
    const sd = sdRaw > 1e-12 ? sdRaw : 1;
    // Precompute the 256 possible outputs.
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v / 255 - m) / sd;
    for (let i = 0; i < n; i++) {
      const base = (i * c + ch) * hw;
      for (let k = 0; k < hw; k++) out[base + k] = lut[raw.pixels[base + k]!]!;
    }
  }
  return out;
}

function checkStats(stats: Normalization, channels: number, name: string): void {
  if (stats.mean.length !== channels || stats.std.length !== channels) {
    throw new ValueError(`${name}: normalization needs ${channels} mean and std values, got ${stats.mean.length} and ${stats.std.length}`);
  }
}

/** Builds normalized train/test `Dataset`s from raw uint8 splits. */
export function fromRaw(
  name: string,
  raw: { train: RawImages; test: RawImages },
  numClasses: number,
  classNames: readonly string[] | undefined,
  normalize: NormalizeOption = true,
): DatasetSplits {
  let stats: Normalization | undefined;
  if (normalize === true) stats = computeStats(raw.train);
  else if (normalize !== false) {
    checkStats(normalize, raw.train.channels, name);
    stats = { mean: [...normalize.mean], std: [...normalize.std] };
  }
  const make = (r: RawImages, labels: Uint8Array): Dataset => {
    const ds: Dataset = {
      name,
      images: normalizePixels(r, stats),
      labels: Int32Array.from(labels),
      n: r.n,
      channels: r.channels,
      height: r.height,
      width: r.width,
      numClasses,
      ...(classNames !== undefined ? { classNames: [...classNames] } : {}),
      ...(stats !== undefined ? { normalization: { mean: [...stats.mean], std: [...stats.std] } } : {}),
    };
    return ds;
  };
  return { train: make(raw.train, raw.train.labels), test: make(raw.test, raw.test.labels) };
}

function maxLabel(...parts: Uint8Array[]): number {
  let m = -1;
  for (const p of parts) for (let i = 0; i < p.length; i++) if (p[i]! > m) m = p[i]!;
  return m;
}

/** A split without images trains on NaN or reports 0 % accuracy: refuse it up front. */
function checkSplitsNotEmpty(where: string, raw: { train: RawImages; test: RawImages }): void {
  for (const [name, r] of [['training', raw.train], ['test', raw.test]] as const) {
    if (r.n === 0) throw new DataError(`${where}: the ${name} split has no images; expected at least one`, { file: where });
  }
}

/**
 * With the class count inferred as max label + 1, a stray label (e.g. 255 among 0..9) would build a
 * 256-class model silently: every class up to the largest label must have a training image.
 */
function checkClassesPresent(where: string, labels: Uint8Array, top: number): void {
  const seen = new Uint8Array(top + 1);
  for (let i = 0; i < labels.length; i++) seen[labels[i]!] = 1;
  const missing: number[] = [];
  for (let c = 0; c <= top; c++) if (seen[c] === 0) missing.push(c);
  if (missing.length === 0) return;
  const shown = missing.length > 5 ? `${missing.slice(0, 5).join(', ')}, … (${missing.length} in all)` : missing.join(', ');
  throw new DataError(
    `${where}: the largest label is ${top} (${top + 1} classes) but classes ${shown} have no training image; ` +
      `expected labels 0..K-1 with every class present (or give classNames)`,
    { file: where },
  );
}

function specObject(spec: DatasetSpec): Exclude<DatasetSpec, string> {
  return typeof spec === 'string' ? { kind: spec } : spec;
}

/**
 * Loads a dataset (synchronously; the files are read whole): the embedded `fashion-mnist-14`
 * (default), an MNIST-style IDX directory, or a CIFAR-10/100 binary directory. Returns normalized
 * `{train, test}`; bad or truncated files throw a `DataError`.
 */
export function loadDataset(spec: DatasetSpec = EMBEDDED_NAME): DatasetSplits {
  const s = specObject(spec);
  switch (s.kind) {
    case EMBEDDED_NAME: {
      const p = readEmbedded(s.file);
      return fromRaw(EMBEDDED_NAME, p, p.numClasses, FASHION_MNIST_CLASSES, s.normalize);
    }
    case 'idx': {
      const raw = readIdxDir(s.dir);
      checkSplitsNotEmpty(s.dir, raw);
      const top = maxLabel(raw.train.labels, raw.test.labels);
      const numClasses = s.classNames !== undefined ? s.classNames.length : top + 1;
      if (top >= numClasses) {
        throw new DataError(`${s.dir}: label ${top} found but only ${numClasses} class names were given`, { file: s.dir });
      }
      if (s.classNames === undefined) checkClassesPresent(s.dir, raw.train.labels, top);
      return fromRaw(s.name ?? 'idx', raw, numClasses, s.classNames, s.normalize);
    }
    case 'cifar10': {
      const r = readCifar10Dir(s.dir);
      checkSplitsNotEmpty(s.dir, r);
      return fromRaw('cifar10', r, 10, r.classNames, s.normalize);
    }
    case 'cifar100': {
      const r = readCifar100Dir(s.dir);
      checkSplitsNotEmpty(s.dir, r);
      if (s.labels === 'coarse') {
        const coarse = (x: typeof r.train): RawImages => ({ ...x, labels: x.coarseLabels ?? x.labels });
        return fromRaw('cifar100-coarse', { train: coarse(r.train), test: coarse(r.test) }, 20, r.coarseClassNames, s.normalize);
      }
      return fromRaw('cifar100', r, 100, r.fineClassNames, s.normalize);
    }
    case 'folder': {
      const sf = splitFolders(s.dir);
      let raw: { train: RawImages; test: RawImages };
      let classNames: string[];
      if (sf) {
        const tr = readImageFolder(sf.train, s.image);
        const te = readImageFolder(sf.test, s.image, tr.classNames);
        checkSameShape(tr.raw, te.raw, s.dir);
        raw = { train: tr.raw, test: te.raw };
        classNames = tr.classNames;
      } else {
        const all = readImageFolder(s.dir, s.image);
        raw = splitUserData({ all: all.raw }, s);
        classNames = all.classNames;
      }
      return fromRaw('folder', raw, classNames.length, classNames, s.normalize);
    }
    case 'npz':
    case 'npy': {
      const raw = splitUserData(s.kind === 'npz' ? readNpzImages(s.file, s.image) : { all: readNpyImages(s.images, s.labels, s.image) }, s);
      checkSameShape(raw.train, raw.test, s.kind === 'npz' ? s.file : s.images);
      return fromRaw(s.kind, raw, maxLabel(raw.train.labels, raw.test.labels) + 1, undefined, s.normalize);
    }
    default: {
      const bad: never = s;
      throw new DataError(`unknown dataset spec ${JSON.stringify(bad)}`);
    }
  }
}
