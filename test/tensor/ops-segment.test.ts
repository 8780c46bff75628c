import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, tensor } from '../../src/tensor/tensor.js';
import { gradCheck, randomTensor } from '../../src/tensor/gradcheck.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { segmentSum, segmentMean, segmentMax, segmentMin } from '../../src/tensor/ops/segment.js';
import { indexSelect } from '../../src/tensor/ops/shape.js';
import '../../src/tensor/backends/ts/kernels.js';

const TOL = 1e-6;
const rng = new Rng(5);

const OPS = { segmentSum, segmentMean, segmentMax, segmentMin } as const;

/** Unsorted ids over `numSegments` segments that leave segment `empty` unused. */
function ids(E: number, numSegments: number, empty: number): Int32Array {
  const out = new Int32Array(E);
  for (let e = 0; e < E; e++) {
    let s = rng.int(numSegments - 1);
    if (s >= empty) s++;
    out[e] = s;
  }
  return out;
}

for (const [name, op] of Object.entries(OPS)) {
  for (const shape of [[9], [9, 3], [8, 2, 3], [7, 70]]) {
    const seg = ids(shape[0], 5, 3);
    test(`gradcheck ${name} ${JSON.stringify(shape)} with an empty segment`, () => {
      const r = gradCheck(([x]) => op(x, seg, 5), [randomTensor(shape, rng)]);
      assert.ok(r.maxError < TOL, `${name}: max error ${r.maxError} at ${JSON.stringify(r.worst)}`);
      const out = op(randomTensor(shape, rng), seg, 5);
      assert.deepEqual(out.shape, [5, ...shape.slice(1)]);
      const inner = out.size / 5;
      for (let k = 0; k < inner; k++) assert.equal(out.data[3 * inner + k], 0, 'empty segment must be 0');
    });
  }
  test(`gradcheck ${name} composed with indexSelect (message passing)`, () => {
    // gather node rows by edge sources, reduce into edge targets
    const src = Int32Array.from([0, 1, 2, 3, 0, 0, 2]);
    const dst = Int32Array.from([1, 1, 0, 2, 2, 3, 1]);
    const r = gradCheck(([h]) => op(indexSelect(h, 0, src), dst, 5), [randomTensor([4, 3], rng)]);
    assert.ok(r.maxError < TOL, `${name}: max error ${r.maxError}`);
  });
  test(`${name} with no rows gives zeros`, () => {
    const out = op(tensor([], [0, 2], 'float64'), new Int32Array(0), 3);
    assert.deepEqual(out.shape, [3, 2]);
    assert.deepEqual(out.toArray(), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(op(tensor([1, 2], [2, 1]), [0, 0], 0 + 1).shape, [1, 1]);
  });
}

test('segment reductions against hand-computed values', () => {
  // rows: [1, 10], [2, 20], [3, -30], [4, 40] with ids 2, 0, 2, 2 ; segment 1 empty
  const x = tensor([1, 10, 2, 20, 3, -30, 4, 40], [4, 2], 'float64');
  const seg = new Int32Array([2, 0, 2, 2]);
  assert.deepEqual(segmentSum(x, seg, 3).toArray(), [2, 20, 0, 0, 8, 20]);
  assert.deepEqual(segmentMean(x, seg, 3).toArray(), [2, 20, 0, 0, 8 / 3, 20 / 3]);
  assert.deepEqual(segmentMax(x, seg, 3).toArray(), [2, 20, 0, 0, 4, 40]);
  assert.deepEqual(segmentMin(x, seg, 3).toArray(), [2, 20, 0, 0, 1, -30]);
  assert.deepEqual(segmentSum(x, [0, 0, 0, 0], 1).toArray(), [10, 40]);
  // negative values in a segment: max must not be clamped by the 0 initial value
  assert.deepEqual(segmentMax(tensor([-3, -1, -2]), [0, 0, 0], 1).toArray(), [-1]);
  assert.deepEqual(segmentMin(tensor([3, 1, 2]), [0, 0, 0], 1).toArray(), [1]);
});

test('segment gradients: mean divides by counts, max/min go to the first arg-extreme', () => {
  const x = tensor([5, 1, 5, 2, 1], [5], 'float64');
  const seg = new Int32Array([0, 0, 0, 1, 1]);
  const gSum = valueAndGrad((t: Tensor) => sum(segmentSum(t, seg, 3)))(x).grads;
  assert.deepEqual(gSum.toArray(), [1, 1, 1, 1, 1]);
  const gMean = valueAndGrad((t: Tensor) => sum(segmentMean(t, seg, 3)))(x).grads;
  assert.deepEqual(gMean.toArray(), [1 / 3, 1 / 3, 1 / 3, 0.5, 0.5]);
  const gMax = valueAndGrad((t: Tensor) => sum(segmentMax(t, seg, 3)))(x).grads;
  assert.deepEqual(gMax.toArray(), [1, 0, 0, 1, 0]); // tie 5/5 → first
  const gMin = valueAndGrad((t: Tensor) => sum(segmentMin(t, seg, 3)))(x).grads;
  assert.deepEqual(gMin.toArray(), [0, 1, 0, 0, 1]);
});

test('segment errors name the op and the shapes', () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
  assert.throws(() => segmentSum(x, new Int32Array([0, 4, 1]), 4), /segmentSum: segment id 4 \(row 1\) out of range for numSegments 4 \(data \[3, 2\]\)/);
  assert.throws(() => segmentMean(x, [0, -1, 1], 4), /segmentMean: segment id -1 \(row 1\) out of range for numSegments 4 \(data \[3, 2\]\)/);
  assert.throws(() => segmentMax(x, new Int32Array([0, 1]), 2), /segmentMax: 2 segment ids for data \[3, 2\] \(expected 3\)/);
  assert.throws(() => segmentMin(tensor([1], []), [], 2), /segmentMin: data must have rank ≥ 1, got shape \[\]/);
  assert.throws(() => segmentSum(x, [0, 0, 0], -1), /segmentSum: numSegments must be a non-negative integer, got -1 \(data \[3, 2\]\)/);
});

test('segment reductions on ~100k edges: gradients of the full size', () => {
  const E = 100_000, F = 32, N = 20_000;
  const x = randomTensor([E, F], rng).to('float32');
  const seg = new Int32Array(E);
  for (let e = 0; e < E; e++) seg[e] = rng.int(N);
  for (const op of Object.values(OPS)) {
    const { grads } = valueAndGrad((t: Tensor) => sum(op(t, seg, N)))(x);
    assert.equal(grads.size, E * F);
  }
});
