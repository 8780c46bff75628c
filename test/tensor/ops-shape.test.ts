import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, tensor } from '../../src/tensor/tensor.js';
import { gradCheck, randomTensor } from '../../src/tensor/gradcheck.js';
import { mul } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import {
  permute, transpose, concat, stack, split, slice, indexSelect, pad, expand, broadcastTo,
} from '../../src/tensor/ops/shape.js';
import '../../src/tensor/backends/ts/kernels.js';

const TOL = 1e-6;
const rng = new Rng(11);

function check(name: string, f: (inputs: Tensor[]) => Tensor, shapes: number[][]): void {
  test(`gradcheck ${name} ${JSON.stringify(shapes)}`, () => {
    const r = gradCheck(f, shapes.map((s) => randomTensor(s, rng)));
    assert.ok(r.maxError < TOL, `${name}: max error ${r.maxError} at ${JSON.stringify(r.worst)}`);
    assert.ok(r.checked > 0);
  });
}

/** Multiplies piece i by (i+1) so that a mix-up of pieces changes the gradient. */
function weighted(pieces: Tensor[]): Tensor[] {
  return pieces.map((p, i) => mul(p, i + 1));
}

// ---------- permute / transpose ----------
for (const perm of [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0], [0, 2, 1], [-1, 0, -2]]) {
  check(`permute ${JSON.stringify(perm)}`, ([a]) => permute(a, perm), [[2, 3, 4]]);
}
check('permute 4d', ([a]) => permute(a, [3, 1, 0, 2]), [[2, 3, 2, 3]]);
check('transpose default', ([a]) => transpose(a), [[3, 5]]);
check('transpose default 3d', ([a]) => transpose(a), [[2, 3, 4]]);
check('transpose 0,2', ([a]) => transpose(a, 0, 2), [[2, 3, 4]]);
check('transpose -1,0', ([a]) => transpose(a, -1, 0), [[2, 3, 4]]);

// ---------- concat / stack / split / slice ----------
for (const axis of [0, 1, 2, -1, -3]) {
  const shapes = [2, 3, 1].map((k) => {
    const s = [2, 3, 4];
    s[axis < 0 ? axis + 3 : axis] = k;
    return s;
  });
  check(`concat axis=${axis}`, (ts) => concat(weighted(ts), axis), shapes);
}
check('concat 1d', (ts) => concat(ts, 0), [[3], [0], [2]]);
check('concat same tensor twice', ([a]) => concat([a, mul(a, 3)], 1), [[2, 3]]);

for (const axis of [0, 1, 2, -1, -3]) {
  check(`stack axis=${axis}`, (ts) => stack(weighted(ts), axis), [[2, 3], [2, 3], [2, 3]]);
}

for (const axis of [0, 1, 2, -1]) {
  check(`split uneven sizes axis=${axis}`, ([a]) => {
    const n = a.shape[axis < 0 ? axis + a.rank : axis];
    const sizes = n === 5 ? [1, 3, 0, 1] : [2, 1, 3];
    return concat(weighted(split(a, sizes, axis)).reverse(), axis);
  }, [[6, 5, 6]]);
  check(`split chunk=2 (uneven last) axis=${axis}`, ([a]) => concat(weighted(split(a, 2, axis)), axis), [[5, 3, 5]]);
}

for (const [axis, start, end, step] of [
  [0, 1, 3, 1], [1, 0, 2, 1], [2, -3, -1, 1], [-1, 1, undefined, 2], [1, 0, 4, 3], [0, -100, 100, 1], [2, 3, 1, 1],
] as const) {
  check(`slice axis=${axis} ${start}:${String(end)}:${step}`, ([a]) => mul(slice(a, axis, start, end, step), 2), [[3, 4, 5]]);
}

// ---------- indexSelect ----------
for (const [axis, idx] of [
  [0, [2, 0, 2, 2, 1]], [1, [3, 3]], [2, [0, 4, 1, 4]], [-1, [4]], [-2, [1, 0, 2, 3, 1, 0]], [0, []],
] as const) {
  check(`indexSelect axis=${axis} ${JSON.stringify(idx)}`, ([a]) => indexSelect(a, axis, Int32Array.from(idx)), [[3, 4, 5]]);
}
check('indexSelect number[] long rows', ([a]) => indexSelect(a, 0, [1, 1, 0, 3, 1]), [[4, 70]]);
check('indexSelect 1d', ([a]) => indexSelect(a, 0, [0, 0, 2]), [[3]]);

// ---------- pad ----------
check('pad all axes', ([a]) => pad(a, [[1, 0], [0, 2], [2, 1]]), [[2, 3, 2]]);
check('pad last 2 axes, value 3', ([a]) => pad(a, [[1, 1], [0, 3]], 3), [[2, 3, 2]]);
check('pad last axis', ([a]) => pad(a, [[2, 2]]), [[2, 3]]);
check('pad nothing', ([a]) => pad(a, []), [[2, 3]]);

// ---------- expand / broadcastTo ----------
check('expand [3,1] -> [2,3,4]', ([a]) => expand(a, [2, 3, 4]), [[3, 1]]);
check('expand [] -> [2,2]', ([a]) => expand(a, [2, 2]), [[]]);
check('expand -1', ([a]) => expand(a, [2, -1, 3]), [[4, 1]]);
check('broadcastTo [1,4] -> [3,4]', ([a]) => broadcastTo(a, [3, 4]), [[1, 4]]);
check('broadcastTo identity', ([a]) => broadcastTo(a, [2, 3]), [[2, 3]]);

// ---------- values ----------
test('values of shape ops', () => {
  const a = tensor([0, 1, 2, 3, 4, 5], [2, 3]);
  assert.deepEqual(transpose(a).shape, [3, 2]);
  assert.deepEqual(transpose(a).toArray(), [0, 3, 1, 4, 2, 5]);
  const b = tensor([...Array(24).keys()], [2, 3, 4]);
  const p = permute(b, [2, 0, 1]);
  assert.deepEqual(p.shape, [4, 2, 3]);
  // p[k, i, j] = b[i, j, k] = 12i + 4j + k
  assert.equal(p.data[1 * 6 + 1 * 3 + 2], 12 + 8 + 1);
  assert.deepEqual(concat([a, tensor([6, 7], [2, 1])], 1).toArray(), [0, 1, 2, 6, 3, 4, 5, 7]);
  assert.deepEqual(concat([a, tensor([6, 7, 8], [1, 3])], 0).toArray(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(stack([tensor([1, 2]), tensor([3, 4])], 1).toArray(), [1, 3, 2, 4]);
  assert.deepEqual(stack([tensor([1, 2]), tensor([3, 4])], 0).shape, [2, 2]);
  assert.deepEqual(stack([tensor([1, 2]), tensor([3, 4])], -1).shape, [2, 2]);
  const parts = split(tensor([0, 1, 2, 3, 4]), 2);
  assert.deepEqual(parts.map((t) => t.toArray()), [[0, 1], [2, 3], [4]]);
  const cols = split(a, [1, 2], -1);
  assert.deepEqual(cols.map((t) => t.shape), [[2, 1], [2, 2]]);
  assert.deepEqual(cols[1].toArray(), [1, 2, 4, 5]);
  const r = tensor([0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(slice(r, 0, 1, 6, 2).toArray(), [1, 3, 5]);
  assert.deepEqual(slice(r, 0, -3).toArray(), [4, 5, 6]);
  assert.deepEqual(slice(r, 0, 5, 2).toArray(), []);
  assert.deepEqual(slice(a, 1, 1, 3).toArray(), [1, 2, 4, 5]);
  assert.deepEqual(indexSelect(a, 0, [1, 1, 0]).toArray(), [3, 4, 5, 3, 4, 5, 0, 1, 2]);
  assert.deepEqual(indexSelect(a, 1, new Int32Array([2, 0])).toArray(), [2, 0, 5, 3]);
  assert.deepEqual(pad(tensor([1, 2], [1, 2]), [[1, 0], [1, 1]], 9).toArray(), [9, 9, 9, 9, 9, 1, 2, 9]);
  assert.deepEqual(expand(tensor([1, 2], [2, 1]), [2, 3]).toArray(), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(broadcastTo(tensor([1, 2]), [2, 2]).toArray(), [1, 2, 1, 2]);
  assert.equal(slice(tensor([1, 2, 3], [3], 'float64'), 0, 1).dtype, 'float64');
});

test('indexSelect backward scatter-adds repeated indices', () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [3, 2], 'float64');
  const { grads } = valueAndGrad((t: Tensor) => sum(indexSelect(t, 0, [2, 0, 2, 2])))(x);
  assert.deepEqual(grads.toArray(), [1, 1, 0, 0, 3, 3]);
  const g2 = valueAndGrad((t: Tensor) => sum(expand(t, [4, 3, 2])))(tensor([1, 2], [1, 2], 'float64')).grads;
  assert.deepEqual(g2.toArray(), [12, 12]);
});

test('indexSelect keeps its own copy of the indices', () => {
  const idx = new Int32Array([0, 0]);
  const x = tensor([1, 2], [2], 'float64');
  const { grads } = valueAndGrad((t: Tensor) => {
    const y = sum(indexSelect(t, 0, idx));
    idx[1] = 1; // mutated before backward
    return y;
  })(x);
  assert.deepEqual(grads.toArray(), [2, 0]);
});

test('shape op errors name the op and the shapes', () => {
  const a = tensor([0, 1, 2, 3, 4, 5], [2, 3]);
  assert.throws(() => concat([a, tensor([1, 2, 3, 4], [2, 2])], 0), /concat: shapes \[2, 3\] and \[2, 2\] differ outside axis 0/);
  assert.throws(() => concat([a, tensor([1, 2, 3])], 0), /concat: shapes \[2, 3\] and \[3\]/);
  assert.throws(() => concat([a, a], 2), /concat: axis 2 out of range for rank 2 \(shape \[2, 3\]\)/);
  assert.throws(() => concat([], 0), /concat: needs at least one tensor/);
  assert.throws(() => concat([a, a.to('float64')], 0), /concat: dtype mismatch/);
  assert.throws(() => stack([a, tensor([1, 2, 3])]), /stack: shapes differ: \[2, 3\], \[3\]/);
  assert.throws(() => stack([a, a], 3), /stack: axis 3 out of range for stacking tensors of shape \[2, 3\]/);
  assert.throws(() => permute(a, [0, 0]), /permute: \[0, 0\] is not a permutation of the axes of \[2, 3\]/);
  assert.throws(() => permute(a, [0]), /permute: permutation \[0\] has 1 axes, input \[2, 3\] has 2/);
  assert.throws(() => transpose(a, 0, 2), /transpose: axis 2 out of range for rank 2 \(shape \[2, 3\]\)/);
  assert.throws(() => split(a, [1, 1], 1), /split: sizes \[1, 1\] sum to 2, but axis 1 of \[2, 3\] has 3/);
  assert.throws(() => split(a, 0, 1), /split: chunk size must be a positive integer, got 0 \(shape \[2, 3\]\)/);
  assert.throws(() => slice(a, -3, 0, 1), /slice: axis -3 out of range for rank 2 \(shape \[2, 3\]\)/);
  assert.throws(() => slice(a, 0, 0, 1, 0), /slice: step must be a positive integer, got 0 \(shape \[2, 3\]\)/);
  assert.throws(() => indexSelect(a, 1, [0, 3]), /indexSelect: index 3 \(position 1\) out of range for axis 1 of shape \[2, 3\]/);
  assert.throws(() => indexSelect(a, 0, new Int32Array([-1])), /indexSelect: index -1 \(position 0\) out of range for axis 0 of shape \[2, 3\]/);
  assert.throws(() => indexSelect(a, 2, [0]), /indexSelect: axis 2 out of range for rank 2 \(shape \[2, 3\]\)/);
  assert.throws(() => pad(a, [[1, 1], [1, 1], [1, 1]]), /pad: 3 pad pairs for input of shape \[2, 3\] \(rank 2\)/);
  assert.throws(() => pad(a, [[-1, 0]]), /pad: pads must be non-negative integers, got \[-1, 0\] for shape \[2, 3\]/);
  assert.throws(() => expand(a, [4, 3, 2]), /expand: cannot broadcast \[2, 3\] to \[4, 3, 2\]/);
  assert.throws(() => broadcastTo(a, [3]), /broadcastTo: cannot broadcast \[2, 3\] to \[3\]/);
  assert.throws(() => expand(a, [-1, 2, 3]), /expand: cannot broadcast \[2, 3\] to \[-1, 2, 3\]/);
});

test('hot paths on ~100k rows: indexSelect, concat and split agree', () => {
  const E = 100_000, F = 16;
  const x = randomTensor([20_000, F], rng).to('float32');
  const idx = new Int32Array(E);
  for (let i = 0; i < E; i++) idx[i] = rng.int(20_000);
  const g = indexSelect(x, 0, idx);
  const c = concat([g, g], 1);
  const [l, r] = split(c, [F, F], 1);
  assert.deepEqual(l.shape, [E, F]);
  assert.deepEqual(r.toArray().slice(0, F), Array.from(x.data.subarray(idx[0] * F, idx[0] * F + F)));
});
