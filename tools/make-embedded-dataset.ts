#!/usr/bin/env -S npx tsx
/**
 * Builds data/fashion-mnist-14.bin.gz, the embedded default dataset of metaprune, from the
 * official Fashion-MNIST IDX files (Debian package `dataset-fashion-mnist`).
 *
 *   npx tsx tools/make-embedded-dataset.ts [--src DIR] [--out FILE] [--train-per-class N] [--test-per-class N]
 *
 * Defaults: --src /usr/share/datasets/fashion-mnist, --out data/fashion-mnist-14.bin.gz,
 * 1200 train and 200 test images per class.
 *
 * Steps: read the train-* and t10k-* IDX files; keep the first N images of each class in file order
 * (deterministic, no randomness) in their original order; 2×2 average pooling 28×28 → 14×14,
 * rounded half up ((a+b+c+d+2) >> 2); write the MPDS v1 packed format (src/data/embedded.ts),
 * gzip level 9. The output is byte-for-byte reproducible (Node's gzip header has mtime 0).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { avgPool2x2, encodePacked, firstPerClass, gatherRaw, packageRoot, readEmbedded } from '../src/data/embedded.js';
import { readIdxDir, type RawImages } from '../src/data/idx.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  return v;
}

const root = packageRoot();
const src = arg('--src', '/usr/share/datasets/fashion-mnist');
const out = resolve(root, arg('--out', 'data/fashion-mnist-14.bin.gz'));
const trainPer = Number(arg('--train-per-class', '1200'));
const testPer = Number(arg('--test-per-class', '200'));
const NUM_CLASSES = 10;

function shrink(raw: RawImages, perClass: number): RawImages {
  const picked = gatherRaw(raw, firstPerClass(raw.labels, perClass, NUM_CLASSES));
  return {
    ...picked,
    height: raw.height / 2,
    width: raw.width / 2,
    pixels: avgPool2x2(picked.pixels, picked.n, raw.height, raw.width),
  };
}

const full = readIdxDir(src);
const train = shrink(full.train, trainPer);
const test = shrink(full.test, testPer);
const packed = encodePacked({ channels: 1, height: train.height, width: train.width, numClasses: NUM_CLASSES, train, test });
const gz = gzipSync(packed, { level: 9 });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, gz);

// Read it back through the library loader as a check.
const back = readEmbedded(out);
if (back.train.n !== train.n || back.test.n !== test.n) throw new Error('read-back mismatch');

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
console.log(`wrote ${out}`);
console.log(`  train ${train.n} (${trainPer}/class), test ${test.n} (${testPer}/class), ${train.channels}x${train.height}x${train.width}`);
console.log(`  packed ${packed.length} bytes, sha256 ${sha(packed)}`);
console.log(`  gzip   ${gz.length} bytes, sha256 ${sha(gz)}`);
