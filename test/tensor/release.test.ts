import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor } from '../../src/tensor/tensor.js';
import { mul, add } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { valueAndGrad, valueAndGradAux, vjp } from '../../src/tensor/autograd.js';
import '../../src/tensor/backends/index.js'; // the default backend, so long float32 sums take its fast add

test('valueAndGrad releases the nodes of its own forward pass; reusing them throws, never a silent zero', () => {
  const a = tensor([1, 2, 3], [3], 'float64');
  const { grads, aux } = valueAndGradAux((p: { a: Tensor }) => {
    const y = mul(p.a, p.a);
    return [sum(y), y] as const;
  })({ a });
  assert.deepEqual(Array.from(grads.a.data), [2, 4, 6]);
  assert.equal(aux.gradFn?.inputs.length, 0, 'the saved inputs of y were dropped');
  // y's graph is gone: differentiating through it again must fail loudly
  assert.throws(() => vjp((b: Tensor) => add(aux, b), tensor([0, 0, 0], [3], 'float64'), tensor([1, 1, 1], [3], 'float64')), /released/);
});

test('an inner valueAndGrad leaves the enclosing computation\'s graph intact', () => {
  const a = tensor([1, -2, 3], [3], 'float64');
  let inner: number[] = [];
  const { value, grads } = valueAndGrad((p: { a: Tensor }) => {
    const y = mul(p.a, p.a); // node of the outer graph, captured by the inner function
    inner = Array.from(valueAndGrad((q: { b: Tensor }) => sum(mul(q.b, y)))({ b: tensor([1, 1, 1], [3], 'float64') }).grads.b.data);
    return sum(mul(y, p.a)); // Σ a³
  })({ a });
  assert.deepEqual(inner, [1, 4, 9]);
  assert.equal(value.item(), 1 - 8 + 27);
  assert.deepEqual(Array.from(grads.a.data), [3, 12, 27]);
});

test('a float32 tensor used twice gets the float32 sum of both gradients, also through the fast add', () => {
  for (const n of [7, 5000]) { // below and above the fast-add threshold
    const x = new Tensor(new Float32Array(n).map((_, i) => i / 7), [n]);
    const a = new Tensor(new Float32Array(n).map((_, i) => Math.sin(i) * 3), [n]);
    const b = new Tensor(new Float32Array(n).map((_, i) => Math.cos(i) / 3), [n]);
    const { grads } = valueAndGrad((p: { x: Tensor }) => sum(add(mul(p.x, a), mul(p.x, b))))({ x });
    assert.ok(grads.x.data instanceof Float32Array);
    for (let i = 0; i < n; i++) {
      const want = Math.fround(a.data[i] + b.data[i]);
      if (grads.x.data[i] !== want) assert.fail(`n=${n}: element ${i} is ${grads.x.data[i]}, want ${want}`);
    }
  }
});
