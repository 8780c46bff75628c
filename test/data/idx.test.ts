import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError, encodeIdx, loadDataset, parseIdx, readIdxDir, readIdxFile } from '../../src/data/index.js';

/** Writes a uint8 idx3 image file by hand (independently of encodeIdx). */
function handIdx3(n: number, h: number, w: number, pixel: (i: number) => number): Uint8Array {
  const b = new Uint8Array(16 + n * h * w);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x00000803, false);
  v.setUint32(4, n, false);
  v.setUint32(8, h, false);
  v.setUint32(12, w, false);
  for (let i = 0; i < n * h * w; i++) b[16 + i] = pixel(i);
  return b;
}

function handIdx1(labels: number[]): Uint8Array {
  const b = new Uint8Array(8 + labels.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x00000801, false);
  v.setUint32(4, labels.length, false);
  b.set(labels, 8);
  return b;
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'mp-idx-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function dataError(re: RegExp, file?: string, offset?: number): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    assert.match(e.message, re);
    if (file !== undefined) assert.equal(e.file, file);
    if (offset !== undefined) assert.equal(e.offset, offset);
    return true;
  };
}

test('IDX round-trip: raw and gzipped files read back the same (detected by magic, not extension)', () => {
  withDir((dir) => {
    const bytes = handIdx3(5, 3, 4, (i) => (i * 37) & 0xff);
    const rawFile = join(dir, 'images.idx');
    const gzFile = join(dir, 'images-gz.idx'); // gzipped content, no .gz extension
    writeFileSync(rawFile, bytes);
    writeFileSync(gzFile, gzipSync(bytes));
    for (const f of [rawFile, gzFile]) {
      const r = readIdxFile(f, { expectType: 'uint8', expectDims: 3 });
      assert.equal(r.type, 'uint8');
      assert.deepEqual(r.dims, [5, 3, 4]);
      assert.ok(r.data instanceof Uint8Array);
      assert.deepEqual([...r.data], [...bytes.subarray(16)]);
    }
    // encodeIdx produces the same bytes as the hand-written file.
    assert.deepEqual(encodeIdx({ type: 'uint8', dims: [5, 3, 4], data: bytes.slice(16) }), bytes);
  });
});

test('IDX round-trip of the other element types (big-endian)', () => {
  const cases = [
    { type: 'int8', data: Int8Array.of(-128, -1, 0, 127) },
    { type: 'int16', data: Int16Array.of(-32768, -2, 300, 32767) },
    { type: 'int32', data: Int32Array.of(-2147483648, -5, 70000, 2147483647) },
    { type: 'float32', data: Float32Array.of(-1.5, 0, 3.25, 1e30) },
    { type: 'float64', data: Float64Array.of(-1e-300, 0, Math.PI, 1e300) },
  ] as const;
  for (const c of cases) {
    const enc = encodeIdx({ type: c.type, dims: [2, 2], data: c.data });
    const dec = parseIdx(enc, 'mem');
    assert.equal(dec.type, c.type);
    assert.deepEqual(dec.dims, [2, 2]);
    assert.deepEqual([...dec.data], [...c.data]);
  }
  // Big-endian check on a known layout.
  const i16 = encodeIdx({ type: 'int16', dims: [1], data: Int16Array.of(0x0102) });
  assert.deepEqual([...i16], [0, 0, 0x0b, 1, 0, 0, 0, 1, 0x01, 0x02]);
});

test('IDX truncation reports file, offset and expected byte count', () => {
  withDir((dir) => {
    const full = handIdx3(10, 28, 28, (i) => i & 0xff);
    const f = join(dir, 'x.idx');
    writeFileSync(f, full.subarray(0, 16 + 1000));
    assert.throws(
      () => readIdxFile(f, { expectType: 'uint8', expectDims: 3, what: 'pixels' }),
      dataError(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: truncated at offset 16: expected 7840 bytes of pixels, found 1000$`), f, 16),
    );
    // Truncated inside the header.
    writeFileSync(f, full.subarray(0, 10));
    assert.throws(() => readIdxFile(f), dataError(/x\.idx: truncated at offset 4: expected 12 bytes of dimension sizes, found 6$/, f, 4));
    writeFileSync(f, full.subarray(0, 2));
    assert.throws(() => readIdxFile(f), dataError(/x\.idx: truncated at offset 0: expected 4-byte IDX magic, found 2 bytes$/));
    // Trailing garbage is an error too.
    writeFileSync(f, Buffer.concat([full, Buffer.from([1, 2, 3])]));
    assert.throws(() => readIdxFile(f), dataError(/x\.idx: unexpected trailing data at offset 7856: expected end of file .* found 3 more bytes$/, f, 7856));
  });
});

test('gzipped IDX cut short reports the decompressed truncation offset', () => {
  withDir((dir) => {
    const full = handIdx3(50, 28, 28, (i) => (i * 7919) & 0xff);
    const gz = gzipSync(full);
    const f = join(dir, 'train-images-idx3-ubyte.gz');
    writeFileSync(f, gz.subarray(0, Math.floor(gz.length / 2)));
    assert.throws(
      () => readIdxFile(f, { expectType: 'uint8', expectDims: 3, what: 'pixels' }),
      dataError(/train-images-idx3-ubyte\.gz: truncated at offset 16: expected 39200 bytes of pixels, found \d+ \(decompressed offsets; gzip stream ended early: .+\)$/, f, 16),
    );
    // Only the gzip trailer missing: the payload is complete, the stream is still reported broken.
    writeFileSync(f, gz.subarray(0, gz.length - 4));
    assert.throws(() => readIdxFile(f), dataError(/broken gzip stream at offset \d+ \(compressed\)/, f));
  });
});

test('IDX wrong magic, type or rank is reported with file and offset', () => {
  withDir((dir) => {
    const f = join(dir, 'bad.idx');
    const good = handIdx3(2, 2, 2, () => 1);
    const bad = good.slice();
    bad[0] = 0x12;
    writeFileSync(f, bad);
    assert.throws(() => readIdxFile(f), dataError(/bad\.idx: bad magic at offset 0: expected IDX magic 0x0000TTDD .*, found 0x12000803$/, f, 0));
    const badType = good.slice();
    badType[2] = 0x07;
    writeFileSync(f, badType);
    assert.throws(() => readIdxFile(f), dataError(/bad\.idx: bad magic at offset 2: expected an IDX type code .*, found 0x07$/, f, 2));
    // A label file (rank 1) given where images (rank 3) are expected.
    writeFileSync(f, handIdx1([1, 2, 3]));
    assert.throws(
      () => readIdxFile(f, { expectType: 'uint8', expectDims: 3, what: 'pixels' }),
      dataError(/bad\.idx: bad magic at offset 3: expected 3 dimensions for pixels \(magic 0x00000803\), found 1 \(magic 0x00000801\)$/, f, 3),
    );
    writeFileSync(f, encodeIdx({ type: 'float32', dims: [1], data: Float32Array.of(1) }));
    assert.throws(() => readIdxFile(f, { expectType: 'uint8' }), dataError(/offset 2: expected type code 0x08 \(uint8\) for data, found 0x0d \(float32\)$/));
    assert.throws(() => readIdxFile(join(dir, 'nope.idx')), dataError(/nope\.idx: cannot read file: no such file$/));
  });
});

test('IDX directory (MNIST layout, mixed gz/raw) loads as a normalized Dataset', () => {
  withDir((dir) => {
    const trainLabels = [0, 1, 2, 3, 0, 1, 2, 3];
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(handIdx3(8, 4, 4, (i) => (i * 13) & 0xff)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), handIdx1(trainLabels));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), handIdx3(2, 4, 4, (i) => i));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(handIdx1([3, 1])));
    const raw = readIdxDir(dir);
    assert.equal(raw.train.n, 8);
    assert.equal(raw.test.n, 2);
    const { train, test: te } = loadDataset({ kind: 'idx', dir, name: 'tiny' });
    assert.equal(train.name, 'tiny');
    assert.deepEqual([train.n, train.channels, train.height, train.width, train.numClasses], [8, 1, 4, 4, 4]);
    assert.deepEqual([...train.labels], trainLabels);
    assert.deepEqual([...te.labels], [3, 1]);
    let s = 0;
    for (const v of train.images) s += v;
    assert.ok(Math.abs(s / train.images.length) < 1e-5);
    // Pixel 0 of test image 0 is 0 → (0 - mean)/std.
    const { mean, std } = train.normalization!;
    assert.ok(Math.abs(te.images[0]! - (0 - mean[0]!) / std[0]!) < 1e-5);
    assert.throws(() => loadDataset({ kind: 'idx', dir, classNames: ['a', 'b'] }), /label 3 found but only 2 class names/);

    // Label count mismatch between the image and label files.
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(handIdx1([3, 1, 2])));
    assert.throws(() => readIdxDir(dir), dataError(/t10k-labels-idx1-ubyte\.gz: label count mismatch at offset 4: expected 2 labels .*, found 3$/));
  });
  withDir((dir) => {
    assert.throws(() => readIdxDir(dir), dataError(/missing IDX file: expected one of train-images-idx3-ubyte, /));
  });
});

test('IDX edge cases: an empty split and a stray label are clear errors, not NaN training or a 256-class model', () => {
  withDir((dir) => {
    const write = (trainN: number, trainLabels: number[], testN: number, testLabels: number[]) => {
      writeFileSync(join(dir, 'train-images-idx3-ubyte'), handIdx3(trainN, 4, 4, (i) => i & 0xff));
      writeFileSync(join(dir, 'train-labels-idx1-ubyte'), handIdx1(trainLabels));
      writeFileSync(join(dir, 't10k-images-idx3-ubyte'), handIdx3(testN, 4, 4, (i) => i & 0xff));
      writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), handIdx1(testLabels));
    };
    write(0, [], 2, [0, 1]);
    assert.throws(() => loadDataset({ kind: 'idx', dir }), dataError(/the training split has no images; expected at least one/, dir));
    write(4, [0, 1, 0, 1], 0, []);
    assert.throws(() => loadDataset({ kind: 'idx', dir }), dataError(/the test split has no images/, dir));
    write(4, [0, 1, 255, 1], 2, [0, 1]);
    assert.throws(() => loadDataset({ kind: 'idx', dir }), dataError(/largest label is 255 \(256 classes\) but classes 2, 3, 4, 5, 6, … \(253 in all\) have no training image/, dir));
    // With class names the count is given, so a missing class is allowed.
    write(4, [0, 1, 0, 1], 2, [0, 1]);
    assert.equal(loadDataset({ kind: 'idx', dir, classNames: ['a', 'b', 'c'] }).train.numClasses, 3);
    assert.equal(loadDataset({ kind: 'idx', dir }).train.numClasses, 2);
  });
});
