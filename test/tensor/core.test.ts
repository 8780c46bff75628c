import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { tensor } from '../../src/tensor/tensor.js';
import { gradCheck, randomTensor } from '../../src/tensor/gradcheck.js';
import { add, sub, mul, div, pow, exp, log, sqrt, abs, relu, sigmoid, tanh, clamp, neg, maximum, minimum, silu, square } from '../../src/tensor/ops/elementwise.js';
import { sum, mean, max, min, variance } from '../../src/tensor/ops/reduce.js';
import { matmul, linear } from '../../src/tensor/ops/matmul.js';
import { reshape } from '../../src/tensor/ops/reshape.js';
import { valueAndGrad, vjp, noGrad, grad } from '../../src/tensor/autograd.js';
import '../../src/tensor/backends/ts/kernels.js';

const TOL = 1e-6;
const rng = new Rng(7);

function check(name: string, f: Parameters<typeof gradCheck>[0], shapes: number[][], lo = -1, hi = 1): void {
  test(`gradcheck ${name} ${JSON.stringify(shapes)}`, () => {
    const r = gradCheck(f, shapes.map((s) => randomTensor(s, rng, lo, hi)));
    assert.ok(r.maxError < TOL, `${name}: max error ${r.maxError} at ${JSON.stringify(r.worst)}`);
    assert.ok(r.checked > 0);
  });
}

// broadcasting binary ops, each broadcast pattern
for (const shapes of [[[3, 4], [3, 4]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[3, 4], []], [[], [2, 3]], [[2, 3, 1, 1], [1, 3, 2, 2]]]) {
  check('add', ([a, b]) => add(a, b), shapes);
  check('sub', ([a, b]) => sub(a, b), shapes);
  check('mul', ([a, b]) => mul(a, b), shapes);
  check('maximum', ([a, b]) => maximum(a, b), shapes);
  check('minimum', ([a, b]) => minimum(a, b), shapes);
}
check('div', ([a, b]) => div(a, b), [[2, 3], [3]], 0.5, 2);
check('pow', ([a, b]) => pow(a, b), [[2, 3], [2, 3]], 0.5, 2);
check('pow scalar', ([a]) => pow(a, 3), [[5]]);
for (const [name, f, lo, hi] of [
  ['neg', neg, -1, 1], ['exp', exp, -1, 1], ['log', log, 0.2, 2], ['sqrt', sqrt, 0.2, 2], ['abs', abs, -1, 1],
  ['relu', relu, -1, 1], ['sigmoid', sigmoid, -3, 3], ['tanh', tanh, -2, 2], ['silu', silu, -3, 3], ['square', square, -2, 2],
] as const) {
  check(name, ([a]) => f(a), [[3, 5]], lo, hi);
}
check('clamp', ([a]) => clamp(a, -0.5, 0.5), [[4, 4]]);

for (const axes of [0, 1, 2, -1, [0, 2], undefined] as const) {
  for (const keepdims of [false, true]) {
    check(`sum axes=${String(axes)} keep=${keepdims}`, ([a]) => sum(a, { axes, keepdims }), [[2, 3, 4]]);
    check(`mean axes=${String(axes)} keep=${keepdims}`, ([a]) => mean(a, { axes, keepdims }), [[2, 3, 4]]);
    check(`max axes=${String(axes)} keep=${keepdims}`, ([a]) => max(a, { axes, keepdims }), [[2, 3, 4]]);
    check(`min axes=${String(axes)} keep=${keepdims}`, ([a]) => min(a, { axes, keepdims }), [[2, 3, 4]]);
    check(`variance axes=${String(axes)} keep=${keepdims}`, ([a]) => variance(a, { axes, keepdims }), [[2, 3, 4]]);
  }
}
check('variance unbiased', ([a]) => variance(a, { axes: 1, unbiased: true }), [[3, 5]]);

check('matmul 2d', ([a, b]) => matmul(a, b), [[3, 5], [5, 4]]);
check('matmul batched', ([a, b]) => matmul(a, b), [[2, 3, 5], [2, 5, 4]]);
check('matmul shared b', ([a, b]) => matmul(a, b), [[2, 3, 5], [5, 4]]);
check('linear', ([x, w, b]) => linear(x, w, b), [[4, 5], [3, 5], [3]]);
check('linear nobias 3d', ([x, w]) => linear(x, w), [[2, 4, 5], [3, 5]]);
check('reshape', ([a]) => mul(reshape(a, [6, -1]), reshape(a, [6, 2])), [[3, 4]]);

test('values are right, not only gradients', () => {
  const a = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(sum(a, { axes: 0 }).toArray(), [5, 7, 9]);
  assert.deepEqual(sum(a, { axes: 1, keepdims: true }).shape, [2, 1]);
  assert.deepEqual(max(a, { axes: 1 }).toArray(), [3, 6]);
  assert.deepEqual(matmul(a, tensor([1, 0, 0, 1, 1, 1], [3, 2])).toArray(), [4, 5, 10, 11]);
  assert.deepEqual(add(a, tensor([10, 20, 30], [3])).toArray(), [11, 22, 33, 14, 25, 36]);
  assert.ok(Math.abs(variance(tensor([1, 2, 3, 4]), { unbiased: true }).item() - 5 / 3) < 1e-6);
});

test('valueAndGrad over a record, vjp and noGrad', () => {
  const params = { w: tensor([1, 2, 3]), b: tensor([0.5]) };
  const { value, grads } = valueAndGrad((p: typeof params) => sum(mul(add(p.w, p.b), p.w)))(params);
  // f = Σ (w+b)·w ; df/dw = 2w + b ; df/db = Σ w
  assert.ok(Math.abs(value.item() - (1.5 + 2 * 2.5 + 3 * 3.5)) < 1e-5);
  assert.deepEqual(grads.w.toArray(), [2.5, 4.5, 6.5]);
  assert.deepEqual(grads.b.toArray(), [6]);
  const r = vjp((x: ReturnType<typeof tensor>) => mul(x, x), tensor([1, 2]), tensor([1, 10]));
  assert.deepEqual(r.grads.toArray(), [2, 40]);
  const out = noGrad(() => mul(params.w, 2));
  assert.equal(out.gradFn, null);
  // grad through a generated weight: w' = 2φ, loss = Σ w'² → dφ = 8φ
  const g = grad((phi: ReturnType<typeof tensor>) => sum(square(mul(phi, 2))))(tensor([1, -1]));
  assert.deepEqual(g.toArray(), [8, -8]);
});

test('shape and dtype errors name the op and the shapes', () => {
  assert.throws(() => add(tensor([1, 2, 3]), tensor([1, 2])), /add: shapes \[3\] and \[2\] cannot be broadcast/);
  assert.throws(() => matmul(tensor([1, 2], [1, 2]), tensor([1, 2, 3], [3, 1])), /matmul: inner dimensions differ: \[1, 2\] · \[3, 1\]/);
  assert.throws(() => add(tensor([1]), tensor([1], [1], 'float64')), /add: dtype mismatch: float32 vs float64/);
  assert.throws(() => reshape(tensor([1, 2, 3]), [2, 2]), /reshape: cannot reshape \[3\]/);
  assert.throws(() => sum(tensor([1, 2]), { axes: 2 }), /sum: axis 2 out of range for rank 1/);
});
