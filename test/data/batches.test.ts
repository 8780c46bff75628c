import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  batches,
  classCounts,
  epochOrder,
  loadDataset,
  numBatches,
  permutation,
  select,
  split,
  subset,
  type Batch,
  type BatchOptions,
  type Dataset,
} from '../../src/data/index.js';

/** n images of C×H×W; pixel value encodes (image, channel, row, col) so moves are traceable. */
function synthetic(n: number, c = 1, h = 4, w = 4, numClasses = 3): Dataset {
  const images = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) images[((i * c + ch) * h + y) * w + x] = 1 + i * 10000 + ch * 1000 + y * 100 + x;
    }
  }
  const labels = Int32Array.from({ length: n }, (_, i) => i % numClasses);
  return { name: 'synthetic', images, labels, n, channels: c, height: h, width: w, numClasses };
}

function collect(ds: Dataset, bs: number, opts: BatchOptions): Batch[] {
  return [...batches(ds, bs, opts)];
}

function orderOf(bs: Batch[]): number[] {
  return bs.flatMap((b) => [...b.indices]);
}

test('PRNG: deterministic per seed, different across seeds, permutation is a permutation', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 8 }, () => a.nextUint32());
  assert.deepEqual(sa, Array.from({ length: 8 }, () => b.nextUint32()));
  assert.notDeepEqual(sa, Array.from({ length: 8 }, () => c.nextUint32()));
  const r = new Rng(7);
  const hist = new Array(5).fill(0);
  for (let i = 0; i < 5000; i++) hist[r.int(5)]++;
  for (const h of hist) assert.ok(h > 850 && h < 1150, `int(5) histogram ${hist}`);
  const p = permutation(1000, 3);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
});

test('unshuffled batches follow dataset order; shapes, labels and the last partial batch', () => {
  const ds = synthetic(10);
  const bs = collect(ds, 4, {});
  assert.deepEqual(bs.map((b) => b.n), [4, 4, 2]);
  assert.deepEqual(bs[2]!.shape, [2, 1, 4, 4]);
  assert.equal(bs[2]!.x.length, 2 * 16);
  assert.deepEqual(orderOf(bs), [...Array(10).keys()]);
  assert.deepEqual([...bs[1]!.y], [1, 2, 0, 1]);
  assert.equal(bs[1]!.x[16], ds.images[5 * 16]); // sample 5 → batch 1, position 1
  assert.deepEqual(collect(ds, 4, { dropLast: true }).map((b) => b.n), [4, 4]);
  assert.equal(numBatches(10, 4), 3);
  assert.equal(numBatches(10, 4, true), 2);
  assert.equal(numBatches(8, 4, true), 2);
  assert.throws(() => collect(ds, 0, {}), /batch size must be a positive integer/);
});

test('shuffle: deterministic per seed, differs across seeds and epochs, covers every index once', () => {
  const ds = synthetic(103);
  const o1 = orderOf(collect(ds, 16, { shuffle: true, seed: 1 }));
  const o1b = orderOf(collect(ds, 16, { shuffle: true, seed: 1 }));
  const o2 = orderOf(collect(ds, 16, { shuffle: true, seed: 2 }));
  const o1e1 = orderOf(collect(ds, 16, { shuffle: true, seed: 1, epoch: 1 }));
  assert.deepEqual(o1, o1b);
  assert.notDeepEqual(o1, o2);
  assert.notDeepEqual(o1, o1e1);
  assert.notDeepEqual(o1, [...Array(103).keys()]);
  for (const o of [o1, o2, o1e1]) assert.deepEqual([...o].sort((a, b) => a - b), [...Array(103).keys()]);
  assert.deepEqual([...epochOrder(103, { shuffle: true, seed: 1 })], o1);
  // Batch content matches the indices it reports.
  for (const b of collect(ds, 16, { shuffle: true, seed: 5 })) {
    b.indices.forEach((idx, k) => {
      assert.equal(b.y[k], ds.labels[idx]);
      assert.equal(b.x[k * 16 + 7], ds.images[idx * 16 + 7]);
    });
  }
  // dropLast drops exactly the tail of the shuffled order.
  const dropped = orderOf(collect(ds, 16, { shuffle: true, seed: 1, dropLast: true }));
  assert.deepEqual(dropped, o1.slice(0, 96));
});

test('augmentation keeps shape, is deterministic per seed, and is a crop+flip of the source', () => {
  const ds = synthetic(40, 3, 8, 8);
  const opts: BatchOptions = { shuffle: true, seed: 9, augment: true };
  const a = collect(ds, 16, opts);
  const b = collect(ds, 16, opts);
  const c = collect(ds, 16, { ...opts, seed: 10 });
  assert.deepEqual(a.map((x) => x.shape), [[16, 3, 8, 8], [16, 3, 8, 8], [8, 3, 8, 8]]);
  a.forEach((batch, i) => assert.deepEqual(batch.x, b[i]!.x));
  assert.notDeepEqual(a.map((x) => [...x.x]), c.map((x) => [...x.x]));
  // Same order as without augmentation (augmentation has its own stream).
  assert.deepEqual(orderOf(a), orderOf(collect(ds, 16, { shuffle: true, seed: 9 })));

  // Every output pixel is 0 (padding) or the source pixel at a shift |dy|,|dx| <= 4 (after a flip),
  // with the same shift/flip for all channels of one image; and some images really are moved/flipped.
  let moved = 0;
  let flipped = 0;
  for (const batch of a) {
    for (let k = 0; k < batch.n; k++) {
      const idx = batch.indices[k]!;
      const img = batch.x.subarray(k * 192, (k + 1) * 192);
      let found: { dy: number; dx: number; flip: boolean } | undefined;
      for (const flip of [false, true]) {
        for (let dy = -4; dy <= 4 && found === undefined; dy++) {
          for (let dx = -4; dx <= 4 && found === undefined; dx++) {
            let ok = true;
            for (let ch = 0; ch < 3 && ok; ch++) {
              for (let y = 0; y < 8 && ok; y++) {
                for (let x = 0; x < 8 && ok; x++) {
                  const sy = y + dy;
                  const sx = (flip ? 7 - x : x) + dx;
                  const want = sy >= 0 && sy < 8 && sx >= 0 && sx < 8 ? ds.images[idx * 192 + ch * 64 + sy * 8 + sx]! : 0;
                  ok = img[ch * 64 + y * 8 + x] === want;
                }
              }
            }
            if (ok) found = { dy, dx, flip };
          }
        }
      }
      assert.ok(found !== undefined, `image ${idx} is not a crop/flip of its source`);
      if (found.dy !== 0 || found.dx !== 0) moved++;
      if (found.flip) flipped++;
    }
  }
  assert.ok(moved > 20, `moved ${moved}/40`);
  assert.ok(flipped > 5 && flipped < 35, `flipped ${flipped}/40`);

  // Flip only (no padding): every image is the mirror or the original.
  const f = collect(synthetic(1, 1, 2, 3), 1, { augment: { padding: 0, flip: true }, seed: 0, epoch: 0 });
  assert.ok([[1, 2, 3, 101, 102, 103], [3, 2, 1, 103, 102, 101]].some((e) => JSON.stringify([...f[0]!.x]) === JSON.stringify(e)));
});

test('split and subset: seeded, disjoint, complete, order-preserving', () => {
  const ds = synthetic(50);
  const s1 = split(ds, 12, 4);
  const s1b = split(ds, 12, 4);
  const s2 = split(ds, 12, 5);
  assert.equal(s1.heldOut.n, 12);
  assert.equal(s1.train.n, 38);
  assert.deepEqual(s1.heldOut.images, s1b.heldOut.images);
  assert.notDeepEqual(s1.heldOut.images, s2.heldOut.images);
  const idOf = (d: Dataset): number[] => Array.from({ length: d.n }, (_, i) => (d.images[i * 16]! - 1) / 10000);
  const held = idOf(s1.heldOut);
  const rest = idOf(s1.train);
  assert.deepEqual([...held, ...rest].sort((a, b) => a - b), [...Array(50).keys()]);
  assert.deepEqual(held, [...held].sort((a, b) => a - b));
  assert.deepEqual([...s1.heldOut.labels], held.map((i) => i % 3));
  assert.throws(() => split(ds, 51, 0), /nHeldOut must be an integer in 0\.\.50/);

  const sub = subset(ds, 7, 1);
  assert.equal(sub.n, 7);
  assert.equal(sub.images.length, 7 * 16);
  assert.deepEqual(idOf(sub), idOf(subset(ds, 7, 1)));
  assert.notDeepEqual(idOf(sub), idOf(subset(ds, 7, 2)));
  assert.equal(new Set(idOf(sub)).size, 7);
  assert.equal(subset(ds, 50, 3).n, 50);
  assert.deepEqual(idOf(select(ds, [4, 2])), [4, 2]);
  assert.throws(() => select(ds, [50]), /index 50 out of range/);
});

test('batches over the embedded dataset: one shuffled epoch covers all 12000 samples', () => {
  const { train } = loadDataset();
  let seen = 0;
  const hit = new Uint8Array(train.n);
  for (const b of batches(train, 128, { shuffle: true, seed: 0 })) {
    assert.deepEqual(b.shape.slice(1), [1, 14, 14]);
    for (const i of b.indices) hit[i]! += 1;
    seen += b.n;
  }
  assert.equal(seen, 12000);
  assert.ok(hit.every((h) => h === 1));
  const held = split(train, 1000, 0);
  assert.equal(held.train.n + held.heldOut.n, 12000);
  assert.equal(classCounts(held.heldOut).reduce((a, b) => a + b, 0), 1000);
});
