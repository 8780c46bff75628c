/**
 * The backward pass lets ReLU / batch-norm closures write into their incoming gradient, and sums
 * residual gradients in place, only when the engine holds the only reference to that buffer. These
 * cases would show a wrong ownership decision: a gradient shared by two inputs (add), a gradient
 * the caller asked for, the caller's cotangent, views (concat), and a tensor used twice — each at a
 * size that takes the backends' fast paths and at one that takes the plain loops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { backward } from '../../src/tensor/autograd.js';
import { add, mul, relu } from '../../src/tensor/ops/elementwise.js';
import { concat } from '../../src/tensor/ops/shape.js';
import { reshape } from '../../src/tensor/ops/reshape.js';
import { batchNorm } from '../../src/tensor/ops/batchnorm.js';
import { prng, randF32, sameBits } from './kernel-helpers.js';

const SIZES = [6, 6144]; // plain loops, fast paths (multiples of 6)

function leaf(data: Float32Array, shape: number[]): Tensor {
  const t = new Tensor(data, shape);
  t.requiresGrad = true;
  return t;
}

const mask = (x: Float32Array, g: Float32Array): Float32Array => g.map((v, i) => (x[i]! > 0 ? v : 0));

for (const n of SIZES) {
  test(`a gradient shared by both inputs of an add is not overwritten by a ReLU on one branch (n=${n})`, () => {
    const r = prng(n);
    const a = leaf(randF32(n, r), [n]), b = leaf(randF32(n, r), [n]);
    const ct = randF32(n, r), ct0 = ct.slice();
    // the outer relu's gradient is fresh (owned); add hands that same buffer to relu(a) and to b
    const s = add(relu(a), b);
    const [ga, gb] = backward([relu(s)], [ct], [a, b]);
    const gs = mask(s.data as Float32Array, ct0);
    sameBits(gb as Float32Array, gs, 'b receives the unmasked gradient');
    sameBits(ga as Float32Array, mask(a.data as Float32Array, gs), 'a receives the masked gradient');
    sameBits(ct, ct0, 'the cotangent is untouched');
  });

  test(`gradients the caller asks for, and the caller's cotangent, are never overwritten (n=${n})`, () => {
    const r = prng(n + 1);
    const x = leaf(randF32(n, r), [2, 3, n / 6, 1]);
    // a requested intermediate whose own backward (batch norm) could write its result into that gradient
    const h = batchNorm(x, null, null, null, null, { training: true });
    const y = reshape(relu(h), [n]); // reshape hands the cotangent itself to the relu
    const ct = randF32(n, r), ct0 = ct.slice();
    const [gh, gx] = backward([y], [ct], [h, x]);
    const expectH = mask(h.data as Float32Array, ct0);
    sameBits(gh as Float32Array, expectH, 'requested intermediate gradient');
    const [gx2] = backward([batchNorm(x, null, null, null, null, { training: true })], [expectH.slice()], [x]);
    sameBits(gx as Float32Array, gx2 as Float32Array, 'leaf gradient');
    sameBits(ct, ct0, 'the cotangent is untouched');
  });

  test(`a tensor used twice sums its gradients (in place when owned) correctly (n=${n})`, () => {
    const r = prng(n + 2);
    const x = leaf(randF32(n, r), [n]);
    const u = relu(x);
    // u feeds two relus: u's gradient is the sum of two fresh buffers, then masked by relu(x)
    const y = add(relu(mul(u, 3)), relu(mul(u, -1)));
    const ct = randF32(n, r), ct0 = ct.slice();
    const [gx] = backward([y], [ct], [x]);
    const ud = u.data as Float32Array;
    const g1 = ct0.map((v, i) => Math.fround((Math.fround(ud[i]! * 3) > 0 ? v : 0) * 3));
    const g2 = ct0.map((v, i) => Math.fround((Math.fround(-ud[i]!) > 0 ? v : 0) * -1));
    const gu = g1.map((v, i) => Math.fround(v + g2[i]!));
    sameBits(gx as Float32Array, mask(x.data as Float32Array, gu), 'x gradient');
    sameBits(ct, ct0, 'the cotangent is untouched');
  });

  test(`views of one gradient (concat's backward) are not overwritten through one another (n=${n})`, () => {
    const r = prng(n + 3);
    const a = leaf(randF32(n, r), [n]), b = leaf(randF32(n, r), [n]);
    const ct = randF32(2 * n, r), ct0 = ct.slice();
    const [ga, gb] = backward([concat([relu(a), relu(b)], 0)], [ct], [a, b]);
    sameBits(ga as Float32Array, mask(a.data as Float32Array, ct0.subarray(0, n)), 'first half');
    sameBits(gb as Float32Array, mask(b.data as Float32Array, ct0.subarray(n)), 'second half');
    sameBits(ct, ct0, 'the cotangent is untouched');
  });
}

test('batch norm writes its input gradient into an owned incoming gradient: same bits as allocating', () => {
  const r = prng(7);
  const [N, C, H, W] = [4, 8, 8, 8];
  const xd = randF32(N * C * H * W, r), gd = randF32(C, r, 1.5), bd = randF32(C, r), ct = randF32(N * C * H * W, r);
  const run = (owned: boolean): Float32Array[] => {
    const x = leaf(xd.slice(), [N, C, H, W]), gamma = leaf(gd.slice(), [C]), beta = leaf(bd.slice(), [C]);
    const y = batchNorm(x, gamma, beta, null, null, { training: true });
    // relu's backward returns a fresh gradient (owned: BN may overwrite it); the cotangent straight into BN is not owned
    const out = owned ? relu(y) : y;
    const c = owned ? ct.map((v, i) => ((out.data[i] as number) > 0 ? v : 0)) : ct.map((v, i) => ((y.data[i] as number) > 0 ? v : 0));
    const grads = backward([out], [owned ? ct.slice() : c], [x, gamma, beta]);
    return grads as Float32Array[];
  };
  const [a, b] = [run(true), run(false)];
  for (let i = 0; i < 3; i++) sameBits(a[i]!, b[i]!, ['dx', 'dgamma', 'dbeta'][i]!);
});
