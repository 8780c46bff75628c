import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, tensor } from '../../src/tensor/tensor.js';
import { gradCheck, randomTensor } from '../../src/tensor/gradcheck.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { softmax, logSoftmax, crossEntropy, nllLoss, accuracy } from '../../src/tensor/ops/softmax.js';
import { layerNorm } from '../../src/tensor/ops/norm.js';
import { mean, variance } from '../../src/tensor/ops/reduce.js';
import '../../src/tensor/backends/ts/kernels.js';

const TOL = 1e-6;
const rng = new Rng(23);

function check(name: string, f: (inputs: Tensor[]) => Tensor, shapes: number[][], lo = -2, hi = 2): void {
  test(`gradcheck ${name} ${JSON.stringify(shapes)}`, () => {
    const r = gradCheck(f, shapes.map((s) => randomTensor(s, rng, lo, hi)));
    assert.ok(r.maxError < TOL, `${name}: max error ${r.maxError} at ${JSON.stringify(r.worst)}`);
    assert.ok(r.checked > 0);
  });
}

function close(actual: readonly number[], expected: readonly number[], tol = 1e-9): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `index ${i}: ${v} vs ${expected[i]}`));
}

function randomLabels(n: number, c: number): Int32Array {
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.int(c);
  return y;
}

for (const axis of [0, 1, 2, -1, -2, -3]) {
  check(`softmax axis=${axis}`, ([a]) => softmax(a, axis), [[2, 3, 4]]);
  check(`logSoftmax axis=${axis}`, ([a]) => logSoftmax(a, axis), [[2, 3, 4]]);
  check(`layerNorm axis=${axis}`, ([a]) => layerNorm(a, { axis }), [[2, 3, 4]]);
}
check('softmax default', ([a]) => softmax(a), [[4, 5]]);
check('logSoftmax 1d', ([a]) => logSoftmax(a), [[6]]);
check('layerNorm default', ([a]) => layerNorm(a), [[5, 7]]);
check('layerNorm eps=0.1', ([a]) => layerNorm(a, { eps: 0.1 }), [[3, 4]]);

for (const reduction of ['mean', 'sum', 'none'] as const) {
  const y = randomLabels(5, 4);
  check(`crossEntropy ${reduction}`, ([x]) => crossEntropy(x, y, { reduction }), [[5, 4]], -3, 3);
  check(`nllLoss ${reduction}`, ([x]) => nllLoss(x, y, { reduction }), [[5, 4]]);
}
{
  const y = randomLabels(6, 3);
  check('nllLoss(logSoftmax)', ([x]) => nllLoss(logSoftmax(x), y), [[6, 3]]);
  check('crossEntropy default reduction', ([x]) => crossEntropy(x, Array.from(y)), [[6, 3]]);
}

test('softmax and logSoftmax values', () => {
  const e = [1, Math.E, Math.E * Math.E];
  const z = e[0] + e[1] + e[2];
  close(softmax(tensor([1, 2, 3], [3], 'float64')).toArray(), e.map((v) => v / z));
  close(logSoftmax(tensor([1, 2, 3], [3], 'float64')).toArray(), [1, 2, 3].map((v) => v - 1 - Math.log(z)));
  // along axis 0 of [2, 2]: columns are normalized
  close(softmax(tensor([0, 1, 0, 3], [2, 2], 'float64'), 0).toArray(), [0.5, 1 / (1 + Math.E ** 2), 0.5, 1 / (1 + Math.E ** -2)]);
  // with -Infinity (masked) entries
  close(softmax(tensor([0, -Infinity, 0], [3], 'float64')).toArray(), [0.5, 0, 0.5]);
});

test('crossEntropy and nllLoss against a hand computation', () => {
  const x = tensor([1, 2, 3, 1, 1, 1], [2, 3], 'float64');
  const l0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3; // 0.40760596444...
  const l1 = Math.log(3); // 1.0986122886...
  assert.ok(Math.abs(l0 - 0.4076059644443803) < 1e-12);
  close(crossEntropy(x, new Int32Array([2, 0]), { reduction: 'none' }).toArray(), [l0, l1]);
  close([crossEntropy(x, new Int32Array([2, 0])).item()], [(l0 + l1) / 2]);
  close([crossEntropy(x, new Int32Array([2, 0]), { reduction: 'sum' }).item()], [l0 + l1]);
  assert.deepEqual(crossEntropy(x, new Int32Array([2, 0])).shape, []);
  close([nllLoss(tensor([-1, -2, -3, -4], [2, 2], 'float64'), [1, 0]).item()], [(2 + 3) / 2]);
  // gradient of mean CE: (softmax − onehot) / N
  const { grads } = valueAndGrad((t: Tensor) => crossEntropy(t, new Int32Array([2, 0])))(x);
  const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
  close(grads.toArray(), [Math.exp(1) / z / 2, Math.exp(2) / z / 2, (Math.exp(3) / z - 1) / 2, (1 / 3 - 1) / 2, 1 / 6, 1 / 6]);
});

test('huge logits stay finite', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const x = tensor([1e4, -1e4, 0, 1e4, 1e4, 5e3], [2, 3], dtype);
    const y = new Int32Array([1, 2]);
    const { value, grads } = valueAndGrad((t: Tensor) => crossEntropy(t, y))(x);
    assert.ok(Number.isFinite(value.item()), `${dtype}: loss ${value.item()}`);
    // row 0: loss = 2e4 ; row 1: loss = 1e4 − 5e3 + log 2
    assert.ok(Math.abs(value.item() - (2e4 + 5e3 + Math.log(2)) / 2) < 1e-2 * (dtype === 'float32' ? 10 : 1));
    for (const g of grads.toArray()) assert.ok(Number.isFinite(g), `${dtype}: gradient ${g}`);
    close(grads.toArray(), [0.5, -0.5, 0, 0.25, 0.25, -0.5], 1e-6);
    for (const v of softmax(x).toArray()) assert.ok(Number.isFinite(v));
    for (const v of logSoftmax(x).toArray()) assert.ok(!Number.isNaN(v));
    assert.equal(accuracy(x, [0, 0]), 1);
  }
});

test('accuracy', () => {
  const x = tensor([0.1, 0.9, 0.8, 0.2, 0.5, 0.5], [3, 2]);
  assert.equal(accuracy(x, new Int32Array([1, 0, 0])), 1); // ties → first index
  assert.equal(accuracy(x, [0, 0, 1]), 1 / 3);
  assert.equal(accuracy(tensor([], [0, 2]), []), 0);
});

test('layerNorm values match PyTorch semantics (biased variance, eps inside the sqrt)', () => {
  const x = tensor([1, 2, 3, 2, 2, 2], [2, 3], 'float64');
  const s = Math.sqrt(2 / 3 + 1e-5);
  close(layerNorm(x).toArray(), [-1 / s, 0, 1 / s, 0, 0, 0]);
  const big = randomTensor([4, 9], rng, -5, 5);
  const y = layerNorm(big, { eps: 0 });
  close(mean(y, { axes: -1 }).toArray(), [0, 0, 0, 0], 1e-12);
  close(variance(y, { axes: -1 }).toArray(), [1, 1, 1, 1], 1e-12);
  // axis 0 normalizes each column
  close(layerNorm(tensor([1, 5, 3, 7], [2, 2], 'float64'), { axis: 0, eps: 0 }).toArray(), [-1, -1, 1, 1]);
  // a constant row maps to 0 (eps keeps it finite)
  close(layerNorm(tensor([4, 4, 4], [3], 'float64')).toArray(), [0, 0, 0]);
});

test('softmax family errors name the op and the shapes', () => {
  const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.throws(() => softmax(x, 2), /softmax: axis 2 out of range for rank 2 \(shape \[2, 3\]\)/);
  assert.throws(() => logSoftmax(x, -3), /logSoftmax: axis -3 out of range for rank 2 \(shape \[2, 3\]\)/);
  assert.throws(() => layerNorm(x, { axis: 5 }), /layerNorm: axis 5 out of range for rank 2 \(shape \[2, 3\]\)/);
  assert.throws(() => crossEntropy(x, new Int32Array([0, 3])), /crossEntropy: label 3 \(sample 1\) out of range for 3 classes \(logits \[2, 3\]\)/);
  assert.throws(() => crossEntropy(x, new Int32Array([0])), /crossEntropy: 1 labels for logits \[2, 3\] \(expected 2\)/);
  assert.throws(() => crossEntropy(tensor([1, 2, 3]), [0, 0, 0]), /crossEntropy: logits must have rank 2, got shape \[3\]/);
  assert.throws(() => nllLoss(x, [-1, 0]), /nllLoss: label -1 \(sample 0\) out of range for 3 classes \(logProbs \[2, 3\]\)/);
  assert.throws(() => accuracy(x, [0, 7]), /accuracy: label 7 \(sample 1\) out of range for 3 classes/);
});

test('crossEntropy on a large batch: loss near log(classes)', () => {
  const x = randomTensor([100_000, 10], rng).to('float32');
  const y = randomLabels(100_000, 10);
  const { value } = valueAndGrad((t: Tensor) => crossEntropy(t, y))(x);
  assert.ok(Math.abs(value.item() - Math.log(10)) < 0.2);
});
