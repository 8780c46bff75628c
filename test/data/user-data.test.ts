// Image folders and NumPy arrays as datasets, on files generated here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { loadDataset, DataError, type Dataset } from '../../src/data/index.js';
import { parseDataSpec } from '../../src/train/run.js';
import { encodeNpy, encodeNpz } from '../../src/io/npy.js';

const root = mkdtempSync(join(tmpdir(), 'mp-userdata-'));

/** A w×h RGBA image whose pixel (x, y) is f(x, y) = [r, g, b]. */
function rgba(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const d = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set([...f(x, y), 255], (y * w + x) * 4);
  return d;
}
function png(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const p = new PNG({ width: w, height: h });
  rgba(w, h, f).copy(p.data);
  return PNG.sync.write(p);
}
function jpg(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  return jpeg.encode({ width: w, height: h, data: rgba(w, h, f) }, 100).data;
}
function put(file: string, bytes: Uint8Array): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, bytes);
}
const load = (spec: string) => loadDataset(parseDataSpec(spec));
const pixel = (ds: Dataset, i: number, c: number, y: number, x: number) => ds.images[((i * ds.channels + c) * ds.height + y) * ds.width + x]!;

test('image folder: classes, stratified ratio split, grey conversion, bilinear resize, JPEG', () => {
  const dir = join(root, 'flat');
  for (let i = 0; i < 5; i++) put(join(dir, 'cat', `${i}.png`), png(2, 2, (x) => (x === 0 ? [0, 0, 0] : [255, 255, 255])));
  for (let i = 0; i < 4; i++) put(join(dir, 'dog', `${i}.png`), png(2, 2, () => [200, 100, 50]));
  put(join(dir, 'dog', 'z.jpg'), jpg(2, 2, () => [200, 100, 50]));
  writeFileSync(join(dir, 'notes.txt'), 'not a class');
  const { train, test: te } = load(`folder:${dir},resize=4,color=gray,test=0.4,normalize=false`);
  assert.deepEqual(train.classNames, ['cat', 'dog']);
  assert.deepEqual([train.n, te.n, train.channels, train.height, train.width], [6, 4, 1, 4, 4]);
  assert.deepEqual([...te.labels], [0, 0, 1, 1]);
  // Row [0, 255] resized to 4 (half-pixel centers): 0, 63.75, 191.25, 255 → rounded.
  assert.deepEqual([0, 1, 2, 3].map((x) => Math.round(pixel(train, 0, 0, 2, x) * 255)), [0, 64, 191, 255]);
  // (200, 100, 50) → luma (200·299 + 100·587 + 50·114)/1000 = 124.2 → 124.
  assert.equal(Math.round(pixel(train, train.n - 2, 0, 0, 0) * 255), 124);
  const jpegPixel = Math.round(pixel(train, train.n - 1, 0, 1, 1) * 255);
  assert.ok(Math.abs(jpegPixel - 124) <= 3, `JPEG pixel ${jpegPixel}`);
  // The split is a function of the seed: the same spec gives the same test labels.
  assert.deepEqual(load(`folder:${dir},resize=4,color=gray,test=0.4`).test.labels, te.labels);
});

test('image folder with train/ and test/ splits: RGB, center crop, per-channel normalization', () => {
  const dir = join(root, 'splits');
  for (const split of ['train', 'test']) {
    for (const [c, color] of [['a', [10, 20, 30]], ['b', [250, 240, 230]]] as const) {
      put(join(dir, split, c, '0.png'), png(5, 3, (x, y) => (x === 2 && y === 1 ? [1, 2, 3] : [...color])));
    }
  }
  const { train, test: te } = load(`folder:${dir},crop=1,mean=0.5/0.5/0.5,std=0.25/0.25/0.25`);
  assert.deepEqual([train.n, te.n, train.channels, train.height, train.width], [2, 2, 3, 1, 1]);
  assert.equal(pixel(train, 0, 2, 0, 0), Math.fround((3 / 255 - 0.5) / 0.25));
  assert.deepEqual(train.normalization, { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
});

test('image folder errors: missing class folder, unreadable image, mixed sizes, no classes', () => {
  const dir = join(root, 'bad');
  put(join(dir, 'train', 'a', '0.png'), png(2, 2, () => [0, 0, 0]));
  put(join(dir, 'train', 'b', '0.png'), png(2, 2, () => [0, 0, 0]));
  put(join(dir, 'test', 'a', '0.png'), png(2, 2, () => [0, 0, 0]));
  assert.throws(() => load(`folder:${dir}`), (e: unknown) => e instanceof DataError && /test\/b: missing class folder 'b'/.test(e.message));
  put(join(dir, 'test', 'b', '0.png'), Buffer.from('\x89PNG\r\n\x1a\n garbage', 'latin1'));
  assert.throws(() => load(`folder:${dir}`), new RegExp(`${join(dir, 'test', 'b', '0.png')}: unreadable PNG image`));
  put(join(dir, 'test', 'b', '0.png'), png(3, 2, () => [0, 0, 0]));
  assert.throws(() => load(`folder:${dir}`), /is 3×2×3 after transforms, expected 3×2×2/);
  assert.throws(() => load(`folder:${join(root, 'nowhere')}`), /image folder not found/);
  mkdirSync(join(root, 'empty'));
  assert.throws(() => load(`folder:${join(root, 'empty')}`), /no class folders/);
});

test('npz (Keras-style and images/labels) and npy datasets, with their bad-input errors', () => {
  const img = (n: number) => Uint8Array.from({ length: n * 4 * 4 * 3 }, (_, i) => i % 256);
  const kf = join(root, 'keras.npz');
  writeFileSync(kf, encodeNpz({
    x_train: { data: img(6), shape: [6, 4, 4, 3] }, y_train: { data: new Int32Array([0, 1, 2, 0, 1, 2]), shape: [6] },
    x_test: { data: img(3), shape: [3, 4, 4, 3] }, y_test: { data: new Int32Array([2, 1, 0]), shape: [3] },
  }));
  const k = load(`npz:${kf},normalize=false`);
  assert.deepEqual([k.train.n, k.test.n, k.train.channels, k.train.numClasses], [6, 3, 3, 3]);
  // NHWC → NCHW: channel 1 of pixel (0, 1) of image 0 is element (0·4 + 1)·3 + 1 = 4.
  assert.equal(Math.round(pixel(k.train, 0, 1, 0, 1) * 255), 4);
  const af = join(root, 'all.npz');
  writeFileSync(af, encodeNpz({ images: { data: img(10).subarray(0, 160), shape: [10, 4, 4] }, labels: { data: new Uint8Array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]), shape: [10] } }));
  const a = load(`npz:${af},test=0.2,seed=3`);
  assert.deepEqual([a.train.n, a.test.n, a.train.channels], [8, 2, 1]);
  assert.deepEqual([...a.test.labels], [0, 1]);
  const bad = join(root, 'bad.npz');
  writeFileSync(bad, encodeNpz({ images: { data: img(2), shape: [2, 4, 4, 3] }, labels: { data: new Int32Array(3), shape: [3] } }));
  assert.throws(() => load(`npz:${bad}`), /bad\.npz:labels: mismatched lengths: 3 labels for 2 images/);
  writeFileSync(bad, encodeNpz({ images: { data: new Float32Array(32), shape: [2, 4, 4] }, labels: { data: new Int32Array(2), shape: [2] } }));
  assert.throws(() => load(`npz:${bad}`), /bad\.npz:images: wrong dtype: expected uint8 images \(0\.\.255\), found float32/);
  writeFileSync(bad, encodeNpz({ images: { data: img(2), shape: [2, 4, 4, 3] }, labels: { data: new Float32Array(2), shape: [2] } }));
  assert.throws(() => load(`npz:${bad}`), /wrong dtype: expected integer labels, found float32/);
  writeFileSync(bad, encodeNpz({ x: { data: img(1), shape: [1, 48] } }));
  assert.throws(() => load(`npz:${bad}`), /expected arrays x_train, y_train, x_test, y_test or images, labels; found x/);
  const xi = join(root, 'x.npy');
  const yi = join(root, 'y.npy');
  writeFileSync(xi, encodeNpy(img(10).subarray(0, 160), [10, 1, 4, 4]));
  writeFileSync(yi, encodeNpy(new Uint8Array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]), [10]));
  assert.equal(load(`npy:${xi},labels=${yi},resize=2`).train.height, 2);
  assert.throws(() => load(`npy:${xi}`), /npy needs labels=LABELS\.npy/);
});

test('data spec text: unknown keys and bad values are named', () => {
  assert.throws(() => parseDataSpec('folder:d,size=3'), /data 'folder:d,size=3': unknown key 'size': expected one of resize, crop/);
  assert.throws(() => parseDataSpec('folder:d,resize=0'), /resize=0: expected a size H or HxW/);
  assert.throws(() => parseDataSpec('folder:d,mean=0.5'), /mean and std go together/);
  assert.deepEqual(parseDataSpec('folder:my,dir,crop=3x2,color=rgb'), { kind: 'folder', dir: 'my,dir', image: { crop: [3, 2], color: 'rgb' } });
});
