/**
 * End-to-end learning: a tiny CNN (conv − BN − ReLU − conv − BN − ReLU − GAP − linear) trained with
 * SGD + momentum on synthetic, linearly separable 1×8×8 images (three noisy class templates)
 * drives the training loss to ~0, in train and in eval mode (running statistics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, randn, ones, zeros, allocBuf } from '../../src/tensor/tensor.js';
import { valueAndGradAux, noGrad } from '../../src/tensor/autograd.js';
import { conv2d } from '../../src/tensor/ops/conv.js';
import { globalAvgPool } from '../../src/tensor/ops/pool.js';
import { batchNorm } from '../../src/tensor/ops/batchnorm.js';
import { relu } from '../../src/tensor/ops/elementwise.js';
import { linear } from '../../src/tensor/ops/matmul.js';
import { crossEntropy, accuracy } from '../../src/tensor/ops/softmax.js';
import '../../src/tensor/backends/ts/kernels.js';

const CLASSES = 3;
const PER_CLASS = 16;
const SIDE = 8;

interface Params {
  [key: string]: Tensor;
  w1: Tensor; g1: Tensor; b1: Tensor;
  w2: Tensor; g2: Tensor; b2: Tensor;
  fw: Tensor; fb: Tensor;
}

interface Buffers {
  m1: Tensor; v1: Tensor; m2: Tensor; v2: Tensor;
}

/** Each class is a fixed random 8x8 template; samples are template + N(0, 0.5²) noise. */
function makeData(rng: Rng): { x: Tensor; labels: number[] } {
  const n = CLASSES * PER_CLASS, P = SIDE * SIDE;
  const templates = randn([CLASSES, P], rng);
  const x = allocBuf('float32', n * P);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = i % CLASSES;
    labels.push(y);
    for (let k = 0; k < P; k++) x[i * P + k] = templates.data[y * P + k] + 0.5 * rng.normal();
  }
  return { x: new Tensor(x, [n, 1, SIDE, SIDE]), labels };
}

function forward(p: Params, b: Buffers, x: Tensor, training: boolean): Tensor {
  let h = conv2d(x, p.w1, null, { padding: 1 });
  h = relu(batchNorm(h, p.g1, p.b1, b.m1, b.v1, { training }));
  h = conv2d(h, p.w2, null, { stride: 2, padding: 1 });
  h = relu(batchNorm(h, p.g2, p.b2, b.m2, b.v2, { training }));
  return linear(globalAvgPool(h), p.fw, p.fb);
}

test('a tiny CNN learns separable synthetic images to near-zero loss', () => {
  const rng = new Rng(20240611);
  const { x, labels } = makeData(rng);
  const C1 = 8, C2 = 8;
  // Kaiming-normal convolutions, small linear head.
  let params: Params = {
    w1: randn([C1, 1, 3, 3], rng, Math.sqrt(2 / 9)), g1: ones([C1]), b1: zeros([C1]),
    w2: randn([C2, C1, 3, 3], rng, Math.sqrt(2 / (9 * C1))), g2: ones([C2]), b2: zeros([C2]),
    fw: randn([CLASSES, C2], rng, 0.3), fb: zeros([CLASSES]),
  };
  const bufs: Buffers = { m1: zeros([C1]), v1: ones([C1]), m2: zeros([C2]), v2: ones([C2]) };
  const lr = 0.1, momentum = 0.9, wd = 5e-4;
  const velocity = new Map<string, Float32Array>();
  const step = valueAndGradAux((p: Params) => {
    const logits = forward(p, bufs, x, true);
    return [crossEntropy(logits, labels), logits] as const;
  });

  const losses: number[] = [];
  for (let it = 0; it < 300; it++) {
    const { value, grads } = step(params);
    losses.push(value.item());
    const next = {} as Params;
    for (const k of Object.keys(params)) {
      const w = params[k].data, g = grads[k].data;
      let v = velocity.get(k);
      if (v === undefined) {
        v = new Float32Array(w.length);
        velocity.set(k, v);
      }
      const out = new Float32Array(w.length);
      for (let i = 0; i < w.length; i++) {
        v[i] = momentum * v[i] + g[i] + wd * w[i];
        out[i] = w[i] - lr * v[i];
      }
      next[k] = new Tensor(out, params[k].shape);
    }
    params = next;
  }

  const first = losses[0], last = losses[losses.length - 1];
  assert.ok(first > 0.8, `initial loss ${first} should be near log(3)`);
  assert.ok(last < 0.05, `training loss after 300 steps is ${last} (first ${first})`);
  const evalLogits = noGrad(() => forward(params, bufs, x, false));
  const evalLoss = crossEntropy(evalLogits, labels).item();
  assert.ok(evalLoss < 0.05, `eval-mode loss (running statistics) is ${evalLoss}`);
  assert.equal(accuracy(evalLogits, labels), 1);
  for (const v of [...params.w1.data, ...params.fw.data, ...bufs.v2.data]) assert.ok(Number.isFinite(v));
});
