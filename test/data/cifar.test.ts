import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CIFAR100_COARSE_CLASSES,
  CIFAR100_FINE_CLASSES,
  CIFAR10_CLASSES,
  DataError,
  loadDataset,
  readCifar100Dir,
  readCifar10Dir,
  readCifarFile,
} from '../../src/data/index.js';

const PIX = 3 * 32 * 32;

/** Pixel value of image `i`, channel `c`, flat position `k` (deterministic, different per channel). */
function px(i: number, c: number, k: number): number {
  return (i * 31 + c * 80 + k * 7) & 0xff;
}

/** Writes CIFAR records by hand: labels per record (1 byte for CIFAR-10, [coarse, fine] for CIFAR-100). */
function records(first: number, labels: ReadonlyArray<number | readonly [number, number]>): Uint8Array {
  const nl = typeof labels[0] === 'number' ? 1 : 2;
  const rec = nl + PIX;
  const b = new Uint8Array(labels.length * rec);
  labels.forEach((l, j) => {
    const o = j * rec;
    if (typeof l === 'number') b[o] = l;
    else {
      b[o] = l[0];
      b[o + 1] = l[1];
    }
    for (let c = 0; c < 3; c++) for (let k = 0; k < 1024; k++) b[o + nl + c * 1024 + k] = px(first + j, c, k);
  });
  return b;
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'mp-cifar-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeCifar10(root: string, perBatch: number): void {
  mkdirSync(root, { recursive: true });
  for (let b = 1; b <= 5; b++) {
    const first = (b - 1) * perBatch;
    writeFileSync(join(root, `data_batch_${b}.bin`), records(first, Array.from({ length: perBatch }, (_, j) => (first + j) % 10)));
  }
  writeFileSync(join(root, 'test_batch.bin'), records(1000, [9, 8, 7]));
}

test('CIFAR-10 binary reader: five train batches + test batch, C×H×W planes, class names', () => {
  withDir((dir) => {
    // Standard sub-directory layout, with a class-name file.
    const root = join(dir, 'cifar-10-batches-bin');
    writeCifar10(root, 4);
    writeFileSync(join(root, 'batches.meta.txt'), `${CIFAR10_CLASSES.map((s) => s.toUpperCase()).join('\n')}\n\n`);
    const r = readCifar10Dir(dir);
    assert.equal(r.train.n, 20);
    assert.equal(r.test.n, 3);
    assert.deepEqual([r.train.channels, r.train.height, r.train.width], [3, 32, 32]);
    assert.deepEqual([...r.train.labels], Array.from({ length: 20 }, (_, i) => i % 10));
    assert.deepEqual([...r.test.labels], [9, 8, 7]);
    assert.equal(r.classNames[0], 'AIRPLANE');
    // Image 13, green channel, position (row 5, col 6).
    assert.equal(r.train.pixels[13 * PIX + 1 * 1024 + 5 * 32 + 6], px(13, 1, 5 * 32 + 6));
    assert.equal(r.test.pixels[2 * PIX + 2 * 1024 + 1023], px(1002, 2, 1023));
    assert.equal(r.train.coarseLabels, undefined);

    const { train, test: te } = loadDataset({ kind: 'cifar10', dir: root });
    assert.equal(train.name, 'cifar10');
    assert.deepEqual([train.n, train.channels, train.height, train.width, train.numClasses], [20, 3, 32, 32, 10]);
    assert.equal(te.n, 3);
    // Per-channel normalization from the train split: each channel has mean 0, std 1.
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let q = 0;
      for (let i = 0; i < train.n; i++) {
        for (let k = 0; k < 1024; k++) {
          const v = train.images[i * PIX + c * 1024 + k]!;
          s += v;
          q += v * v;
        }
      }
      const m = s / (train.n * 1024);
      assert.ok(Math.abs(m) < 1e-4, `channel ${c} mean ${m}`);
      assert.ok(Math.abs(Math.sqrt(q / (train.n * 1024) - m * m) - 1) < 1e-4);
    }
    assert.equal(train.normalization!.mean.length, 3);
  });
});

test('CIFAR-10 bad files: truncated record, bad label, missing batch', () => {
  withDir((dir) => {
    writeCifar10(dir, 2);
    const f = join(dir, 'data_batch_3.bin');
    const good = records(0, [1, 2]);
    writeFileSync(f, good.subarray(0, 3073 + 100));
    assert.throws(
      () => readCifar10Dir(dir),
      (e: unknown) => {
        assert.ok(e instanceof DataError);
        assert.equal(e.message, `${f}: truncated at offset 3073: expected a 3073-byte record (label + 3072 pixels), found 100 bytes`);
        assert.equal(e.file, f);
        assert.equal(e.offset, 3073);
        return true;
      },
    );
    const badLabel = good.slice();
    badLabel[3073] = 10;
    writeFileSync(f, badLabel);
    assert.throws(() => readCifarFile(f, 'cifar10'), (e: unknown) => e instanceof DataError && e.message === `${f}: bad label in record 1 at offset 3073: expected a label in 0..9, found 10`);
    writeFileSync(f, new Uint8Array(0));
    assert.throws(() => readCifarFile(f, 'cifar10'), /data_batch_3\.bin: truncated at offset 0: expected at least one 3073-byte record .*, found an empty file/);
    rmSync(f);
    assert.throws(() => readCifar10Dir(dir), (e: unknown) => e instanceof DataError && e.message.startsWith(`${f}: missing CIFAR-10 train batch`));
  });
});

test('CIFAR-100 binary reader: coarse + fine labels', () => {
  withDir((dir) => {
    const train: Array<readonly [number, number]> = [[0, 4], [19, 99], [7, 50], [3, 0]];
    writeFileSync(join(dir, 'train.bin'), records(0, train));
    writeFileSync(join(dir, 'test.bin'), records(50, [[1, 1]]));
    const r = readCifar100Dir(dir);
    assert.equal(r.train.n, 4);
    assert.deepEqual([...r.train.labels], [4, 99, 50, 0]);
    assert.deepEqual([...r.train.coarseLabels!], [0, 19, 7, 3]);
    assert.equal(r.train.pixels[2 * PIX + 1024 + 77], px(2, 1, 77));
    assert.equal(r.fineClassNames, CIFAR100_FINE_CLASSES);
    assert.equal(CIFAR100_FINE_CLASSES.length, 100);
    assert.equal(new Set(CIFAR100_FINE_CLASSES).size, 100);
    assert.equal(CIFAR100_COARSE_CLASSES.length, 20);

    const fine = loadDataset({ kind: 'cifar100', dir });
    assert.equal(fine.train.numClasses, 100);
    assert.deepEqual([...fine.train.labels], [4, 99, 50, 0]);
    assert.equal(fine.train.classNames![99], 'worm');
    const coarse = loadDataset({ kind: 'cifar100', dir, labels: 'coarse' });
    assert.equal(coarse.train.numClasses, 20);
    assert.deepEqual([...coarse.test.labels], [1]);
    assert.equal(coarse.train.classNames![19], 'vehicles_2');

    const bad = records(0, [[20, 5]]);
    writeFileSync(join(dir, 'test.bin'), bad);
    assert.throws(() => readCifar100Dir(dir), /test\.bin: bad coarse label in record 0 at offset 0: expected a coarse label in 0\.\.19, found 20/);
    writeFileSync(join(dir, 'test.bin'), bad.subarray(0, 3000));
    assert.throws(() => readCifar100Dir(dir), /test\.bin: truncated at offset 0: expected a 3074-byte record \(coarse label \+ fine label \+ 3072 pixels\), found 3000 bytes/);
  });
});
