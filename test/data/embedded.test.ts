import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DataError,
  FASHION_MNIST_CLASSES,
  avgPool2x2,
  classCounts,
  decodePacked,
  embeddedDatasetPath,
  encodePacked,
  firstPerClass,
  loadDataset,
  packageRoot,
  readPackedFile,
  type Dataset,
} from '../../src/data/index.js';

function meanStd(a: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  const mean = s / a.length;
  let q = 0;
  for (let i = 0; i < a.length; i++) q += (a[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(q / a.length) };
}

function checkSplit(ds: Dataset, n: number, perClass: number): void {
  assert.equal(ds.n, n);
  assert.equal(ds.name, 'fashion-mnist-14');
  assert.deepEqual([ds.channels, ds.height, ds.width], [1, 14, 14]);
  assert.equal(ds.images.length, n * 14 * 14);
  assert.equal(ds.labels.length, n);
  assert.equal(ds.numClasses, 10);
  assert.deepEqual(ds.classNames, FASHION_MNIST_CLASSES);
  for (const l of ds.labels) assert.ok(l >= 0 && l <= 9, `label ${l} out of range`);
  assert.deepEqual([...classCounts(ds)], new Array(10).fill(perClass));
}

test('package root and embedded file are found from the module location', () => {
  const root = packageRoot();
  assert.ok(existsSync(join(root, 'package.json')));
  assert.equal(embeddedDatasetPath(), join(root, 'data', 'fashion-mnist-14.bin.gz'));
  assert.ok(existsSync(embeddedDatasetPath()));
});

test('embedded fashion-mnist-14: 12000/2000 images, 1x14x14, balanced, normalized', () => {
  const { train, test: te } = loadDataset();
  checkSplit(train, 12000, 1200);
  checkSplit(te, 2000, 200);
  const st = meanStd(train.images);
  assert.ok(Math.abs(st.mean) < 1e-3, `train mean ${st.mean}`);
  assert.ok(Math.abs(st.std - 1) < 1e-3, `train std ${st.std}`);
  // The test split is normalized with the train statistics (so close to, not exactly, 0/1).
  assert.deepEqual(te.normalization, train.normalization);
  const ts = meanStd(te.images);
  assert.ok(Math.abs(ts.mean) < 0.1 && Math.abs(ts.std - 1) < 0.1, `test mean ${ts.mean} std ${ts.std}`);
  const m = train.normalization!.mean[0]!;
  assert.ok(m > 0.2 && m < 0.4, `Fashion-MNIST pixel mean ${m}`);
});

test('normalize: false gives pixels in [0, 1]; explicit statistics are applied', () => {
  const raw = loadDataset({ kind: 'fashion-mnist-14', normalize: false }).train;
  assert.equal(raw.normalization, undefined);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of raw.images) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.equal(lo, 0);
  assert.ok(hi <= 1 && hi > 0.9);
  const fixed = loadDataset({ kind: 'fashion-mnist-14', normalize: { mean: [0.5], std: [0.5] } }).train;
  assert.ok(Math.abs(fixed.images[0]! - (raw.images[0]! - 0.5) / 0.5) < 1e-6);
});

test('packed format round-trips and reports bad files with file and offset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-packed-'));
  try {
    const train = { n: 3, channels: 1, height: 2, width: 2, pixels: Uint8Array.from({ length: 12 }, (_, i) => i * 20), labels: Uint8Array.of(0, 1, 2) };
    const te = { n: 1, channels: 1, height: 2, width: 2, pixels: Uint8Array.of(1, 2, 3, 4), labels: Uint8Array.of(2) };
    const bytes = encodePacked({ channels: 1, height: 2, width: 2, numClasses: 3, train, test: te });
    assert.equal(bytes.length, 32 + 4 * 5);
    const f = join(dir, 'p.bin.gz');
    writeFileSync(f, gzipSync(bytes));
    const back = readPackedFile(f);
    assert.deepEqual([...back.train.pixels], [...train.pixels]);
    assert.deepEqual([...back.test.labels], [2]);

    assert.throws(() => decodePacked(bytes.subarray(0, 40), 'x.bin'), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.match(e.message, /^x\.bin: truncated at offset 32: expected 12 bytes of train pixels, found 8$/);
      return true;
    });
    const bad = bytes.slice();
    bad[0] = 0x58;
    assert.throws(() => decodePacked(bad, 'y.bin'), /^DataError: y\.bin: bad magic at offset 0: expected "MPDS"/);
    const badLabel = bytes.slice();
    badLabel[32 + 12] = 7;
    assert.throws(() => decodePacked(badLabel, 'z.bin'), /z\.bin: bad train label at offset 44: expected a label in 0\.\.2, found 7/);
    const f2 = join(dir, 'cut.bin.gz');
    writeFileSync(f2, gzipSync(bytes).subarray(0, 20));
    assert.throws(() => readPackedFile(f2), (e: unknown) => e instanceof DataError && e.message.startsWith(`${f2}: broken gzip stream at offset 20`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('avgPool2x2 rounds half up; firstPerClass keeps file order', () => {
  // 1 image 2x4: blocks [0,1,2,3]→(6+2)>>2=2 (1.5 rounds up), [255,255,255,254]→255 (254.75).
  const px = Uint8Array.of(0, 1, 255, 255, 2, 3, 255, 254);
  assert.deepEqual([...avgPool2x2(px, 1, 2, 4)], [2, 255]);
  assert.deepEqual([...firstPerClass(Uint8Array.of(1, 0, 1, 1, 0, 2, 2), 2, 3)], [0, 1, 2, 4, 5, 6]);
  assert.throws(() => firstPerClass(Uint8Array.of(0, 0, 1), 2, 2), /class 1 has only 1/);
});
