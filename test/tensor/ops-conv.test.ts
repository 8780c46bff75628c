/**
 * conv2d, pooling and batch norm: float64 finite-difference gradient checks, hand-computed values,
 * running-statistics semantics and error messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, tensor, zeros, ones } from '../../src/tensor/tensor.js';
import { gradCheck, randomTensor } from '../../src/tensor/gradcheck.js';
import { conv2d, conv2dGeom, type Conv2dOptions } from '../../src/tensor/ops/conv.js';
import { maxPool2d, avgPool2d, globalAvgPool, type Pool2dOptions } from '../../src/tensor/ops/pool.js';
import { batchNorm } from '../../src/tensor/ops/batchnorm.js';
import { relu } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { valueAndGrad, noGrad } from '../../src/tensor/autograd.js';
import '../../src/tensor/backends/ts/kernels.js';
import '../../src/tensor/backends/index.js';
import { kernelOf, registeredBackends, withBackend } from '../../src/tensor/registry.js';

const TOL = 1e-6;
const rng = new Rng(11);

function check(name: string, f: Parameters<typeof gradCheck>[0], shapes: number[][], opts: { lo?: number; hi?: number; wrt?: number[] } = {}): void {
  test(`gradcheck ${name} ${JSON.stringify(shapes)}`, () => {
    const r = gradCheck(f, shapes.map((s) => randomTensor(s, rng, opts.lo ?? -1, opts.hi ?? 1)), { wrt: opts.wrt });
    assert.ok(r.maxError < TOL, `${name}: max error ${r.maxError} at ${JSON.stringify(r.worst)}`);
    assert.ok(r.checked > 0);
  });
}

// ---------------------------------------------------------------------------- conv2d

const convCases: [string, number[], number[], Conv2dOptions][] = [
  ['stride 2 pad 1', [2, 3, 7, 7], [4, 3, 3, 3], { stride: 2, padding: 1 }],
  ['padding rect', [2, 2, 5, 4], [3, 2, 3, 2], { padding: [1, 2] }],
  ['dilation 2', [1, 2, 8, 7], [3, 2, 3, 3], { dilation: 2, padding: 2 }],
  ['groups 2', [2, 4, 5, 5], [6, 2, 3, 3], { groups: 2, padding: 1 }],
  ['depthwise', [2, 3, 6, 5], [3, 1, 3, 3], { groups: 3, padding: 1, stride: [2, 1] }],
  ['depthwise x2', [1, 2, 5, 5], [4, 1, 3, 3], { groups: 2 }],
  ['1x1', [2, 4, 4, 3], [5, 4, 1, 1], {}],
  ['1x1 stride 2', [2, 3, 5, 5], [2, 3, 1, 1], { stride: 2 }],
  ['mixed', [2, 4, 7, 6], [4, 2, 2, 3], { stride: [2, 1], padding: [0, 1], dilation: [1, 2], groups: 2 }],
];
for (const [name, xs, ws, o] of convCases) {
  check(`conv2d ${name} +bias`, ([x, w, b]) => conv2d(x, w, b, o), [xs, ws, [ws[0]]]);
  check(`conv2d ${name} nobias`, ([x, w]) => conv2d(x, w, null, o), [xs, ws]);
}
check('conv2d only w', ([x, w]) => conv2d(x, w, null, { padding: 1 }), [[2, 2, 4, 4], [3, 2, 3, 3]], { wrt: [1] });
check('conv2d only x', ([x, w]) => conv2d(x, w, null, { padding: 1 }), [[2, 2, 4, 4], [3, 2, 3, 3]], { wrt: [0] });

test('conv2d values by hand', () => {
  // 1x1x3x3 input 1..9, 2x2 all-ones kernel, stride 1, no padding: window sums.
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const y = conv2d(x, ones([1, 1, 2, 2]), tensor([0.5]));
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual(y.toArray(), [12.5, 16.5, 24.5, 28.5]);
  // padding 1, stride 2 with a 3x3 kernel that picks the centre: subsample.
  const k = zeros([1, 1, 3, 3]);
  k.data[4] = 1;
  assert.deepEqual(conv2d(x, k, null, { padding: 1, stride: 2 }).toArray(), [1, 3, 7, 9]);
  // groups: each group sees only its own input channels.
  const x2 = tensor([1, 2], [1, 2, 1, 1]);
  assert.deepEqual(conv2d(x2, tensor([10, 100], [2, 1, 1, 1]), null, { groups: 2 }).toArray(), [10, 200]);
  assert.deepEqual(conv2dGeom([2, 3, 7, 7], [4, 3, 3, 3], { stride: 2, padding: 1 }).OH, 4);
  assert.deepEqual(conv2dGeom([1, 1, 9, 9], [1, 1, 3, 3], { dilation: 2 }).OW, 5);
});

test('conv2d bias gradient sums over batch and space; no tape under noGrad', () => {
  const x = randomTensor([2, 2, 3, 3], rng);
  const w = randomTensor([3, 2, 2, 2], rng);
  const { grads } = valueAndGrad((p: { b: Tensor }) => sum(conv2d(x, w, p.b)))({ b: zeros([3], 'float64') });
  assert.deepEqual(grads.b.toArray(), [8, 8, 8]); // N·OH·OW = 2·2·2
  assert.equal(noGrad(() => conv2d(x, w)).gradFn, null);
});

// ---------------------------------------------------------------------------- pooling

const poolCases: [string, number[], Pool2dOptions][] = [
  ['k3 s2 p1', [2, 3, 7, 7], { kernel: 3, stride: 2, padding: 1 }],
  ['k2 default stride', [1, 2, 6, 6], { kernel: 2 }],
  ['k2 s1', [1, 2, 4, 5], { kernel: 2, stride: 1 }],
  ['rect', [2, 2, 7, 6], { kernel: [3, 2], stride: [2, 1], padding: [1, 0] }],
  ['k3 s3 p1 odd', [1, 1, 5, 7], { kernel: 3, stride: 3, padding: 1 }],
];
for (const [name, xs, o] of poolCases) {
  check(`maxPool2d ${name}`, ([x]) => maxPool2d(x, o), [xs]);
  check(`avgPool2d ${name}`, ([x]) => avgPool2d(x, o), [xs]);
}
check('globalAvgPool', ([x]) => globalAvgPool(x), [[2, 3, 4, 5]]);

test('pooling values by hand', () => {
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 1, 4, 4]);
  assert.deepEqual(maxPool2d(x, { kernel: 2 }).toArray(), [6, 8, 14, 16]);
  assert.deepEqual(avgPool2d(x, { kernel: 2 }).toArray(), [3.5, 5.5, 11.5, 13.5]);
  // count_include_pad: the corner window covers 4 real and 5 padded cells, divisor 9.
  const a = avgPool2d(x, { kernel: 3, stride: 2, padding: 1 });
  assert.deepEqual(a.shape, [1, 1, 2, 2]);
  assert.ok(Math.abs(a.data[0] - (1 + 2 + 5 + 6) / 9) < 1e-6);
  // padding never wins a max, even over negative values.
  const neg = tensor([-5, -6, -7, -8], [1, 1, 2, 2]);
  assert.deepEqual(maxPool2d(neg, { kernel: 2, stride: 1, padding: 1 }).toArray(), [-5, -5, -6, -5, -5, -6, -7, -7, -8]);
  assert.deepEqual(globalAvgPool(x).toArray(), [8.5]);
  assert.deepEqual(globalAvgPool(x).shape, [1, 1]);
});

test('maxPool2d gradient routes to the argmax', () => {
  const x = tensor([1, 9, 3, 4, 5, 6, 7, 8, 2, 10, 11, 12, 13, 14, 15, 0], [1, 1, 4, 4], 'float64');
  const { grads } = valueAndGrad((p: Tensor) => sum(maxPool2d(p, { kernel: 2 })))(x);
  assert.deepEqual(grads.toArray(), [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0]);
});

// ---------------------------------------------------------------------------- batch norm

function bnBuffers(C: number): { rm: Tensor; rv: Tensor } {
  return { rm: randomTensor([C], rng, -0.5, 0.5), rv: randomTensor([C], rng, 0.5, 1.5) };
}

for (const [name, xs] of [['4-D', [4, 3, 3, 2]], ['2-D', [5, 3]], ['1x1 spatial', [3, 2, 1, 1]]] as const) {
  const C = xs[1];
  for (const training of [true, false]) {
    const mode = training ? 'train' : 'eval';
    const { rm, rv } = bnBuffers(C);
    check(`batchNorm ${mode} ${name} affine`, ([x, g, b]) => batchNorm(x, g, b, rm, rv, { training }), [[...xs], [C], [C]], { lo: -2, hi: 3 });
    check(`batchNorm ${mode} ${name} no affine`, ([x]) => batchNorm(x, null, null, rm, rv, { training }), [[...xs]], { lo: -2, hi: 3 });
  }
}
check('batchNorm train, untracked, gamma only, eps 1e-3', ([x, g]) => batchNorm(x, g, null, null, null, { training: true, eps: 1e-3 }), [[3, 2, 2, 2], [2]]);
check('batchNorm train, only gamma/beta', ([x, g, b]) => batchNorm(x, g, b, null, null, { training: true }), [[3, 2, 2, 2], [2], [2]], { wrt: [1, 2] });
check('conv → batchNorm → relu → maxPool chain', ([x, w, g, b]) =>
  maxPool2d(relu(batchNorm(conv2d(x, w, null, { padding: 1 }), g, b, null, null, { training: true })), { kernel: 2 }),
[[3, 2, 4, 4], [3, 2, 3, 3], [3], [3]]);

test('batchNorm train: normalized output and in-place running statistics (PyTorch semantics)', () => {
  const x = tensor([1, 2, 3, 4, 10, 20, 30, 40], [2, 2, 2, 1], 'float64'); // channel 0: 1,2,10,20 ; channel 1: 3,4,30,40
  const rm = tensor([0, 1], [2], 'float64');
  const rv = tensor([1, 2], [2], 'float64');
  const rmData = rm.data;
  const y = batchNorm(x, tensor([2, 1], [2], 'float64'), tensor([0, 5], [2], 'float64'), rm, rv, { training: true, momentum: 0.5, eps: 0 });
  const stats = (v: number[]): [number, number, number] => {
    const m = v.reduce((a, b) => a + b) / v.length;
    const ss = v.reduce((a, b) => a + (b - m) ** 2, 0);
    return [m, ss / v.length, ss / (v.length - 1)];
  };
  const [m0, b0, u0] = stats([1, 2, 10, 20]);
  const [m1, , u1] = stats([3, 4, 30, 40]);
  assert.equal(rm.data, rmData, 'buffer storage is updated in place');
  assert.ok(Math.abs(rm.data[0] - 0.5 * m0) < 1e-12 && Math.abs(rm.data[1] - (0.5 + 0.5 * m1)) < 1e-12);
  assert.ok(Math.abs(rv.data[0] - (0.5 + 0.5 * u0)) < 1e-12 && Math.abs(rv.data[1] - (1 + 0.5 * u1)) < 1e-12);
  assert.ok(Math.abs(y.data[0] - (2 * (1 - m0)) / Math.sqrt(b0)) < 1e-12);
  assert.equal(rm.requiresGrad, false);
  // Eval mode uses the (updated) running statistics and leaves them alone.
  const before = rv.toArray();
  const e = batchNorm(x, null, null, rm, rv, { training: false, eps: 0 });
  assert.deepEqual(rv.toArray(), before);
  assert.ok(Math.abs(e.data[0] - (1 - rm.data[0]) / Math.sqrt(rv.data[0])) < 1e-12);
  // Updates also happen under noGrad (they are not part of the tape).
  noGrad(() => batchNorm(x, null, null, rm, rv, { training: true }));
  assert.notDeepEqual(rv.toArray(), before);
});

test('batchNorm eval backward uses the statistics of its forward pass', () => {
  const x = randomTensor([4, 2, 2, 2], rng);
  const { rm, rv } = bnBuffers(2);
  const rvAtForward = rv.clone();
  const leaf = x.clone();
  leaf.requiresGrad = true;
  const y = batchNorm(leaf, null, null, rm, rv, { training: false });
  batchNorm(x, null, null, rm, rv, { training: true, momentum: 1 }); // overwrite the buffers
  const g = y.gradFn!.backward(ones([4, 2, 2, 2], 'float64').data)[0]!;
  const expected = 1 / Math.sqrt(rvAtForward.data[1] + 1e-5);
  assert.ok(Math.abs(g[4] - expected) < 1e-12);
});

test('batchNorm eval mode on the fast paths: the affine kernel and ReLU, bit for bit, forward and backward', () => {
  const N = 4, C = 3, HW = 300;
  const f32 = (shape: number[]): Tensor => randomTensor(shape, rng).to('float32');
  const x = f32([N, C, 15, 20]);
  const gamma = f32([C]), beta = f32([C]);
  const rm = f32([C]);
  const rv = new Tensor(Float32Array.from([0.5, 1.5, 2.5]), [C]);
  const dyv = f32([N, C, 15, 20]).data as Float32Array;
  for (const backend of registeredBackends().filter((b) => b !== 'ts')) {
    withBackend(backend, () => {
      for (const withRelu of [false, true]) {
        const leaf = x.clone();
        leaf.requiresGrad = true;
        const y = batchNorm(leaf, gamma, beta, rm, rv, { training: false, relu: withRelu });
        // the same kernel, then the ReLU in JS (what the op did before the fast path)
        const scale = new Float32Array(C), shift = new Float32Array(C);
        for (let c = 0; c < C; c++) {
          scale[c] = gamma.data[c]! * Math.fround(1 / Math.sqrt(rv.data[c]! + 1e-5));
          shift[c] = beta.data[c]!;
        }
        const expect = new Float32Array(N * C * HW);
        kernelOf(backend, 'channelAffine')!(x.data, rm.data, scale, shift, expect, N, C, HW);
        if (withRelu) for (let i = 0; i < expect.length; i++) expect[i] = expect[i]! > 0 ? expect[i]! : 0;
        assert.deepEqual(Array.from(y.data), Array.from(expect), `${backend} forward, relu ${withRelu}`);
        const [gx] = y.gradFn!.backward(dyv.slice(), false) as Float32Array[];
        const masked = withRelu ? dyv.map((v, i) => (expect[i]! > 0 ? v : 0)) : dyv;
        const gxExpect = new Float32Array(N * C * HW);
        kernelOf(backend, 'channelAffine')!(masked, new Float32Array(C), scale, new Float32Array(C), gxExpect, N, C, HW);
        assert.deepEqual(Array.from(gx!), Array.from(gxExpect), `${backend} input gradient, relu ${withRelu}`);
      }
    });
  }
});

// ---------------------------------------------------------------------------- errors

test('conv2d errors name the op and the shapes', () => {
  const x = zeros([1, 4, 5, 5]);
  assert.throws(() => conv2d(x, zeros([2, 3, 3, 3])), /conv2d: weight \[2, 3, 3, 3\] with groups=1 expects input with 3 channels, got input \[1, 4, 5, 5\] with 4 channels/);
  assert.throws(() => conv2d(x, zeros([3, 2, 3, 3]), null, { groups: 2 }), /conv2d: output channels 3 of weight \[3, 2, 3, 3\] are not divisible by groups=2/);
  assert.throws(() => conv2d(x, zeros([3, 1, 3, 3]), null, { groups: 3 }), /conv2d: input channels 4 of input \[1, 4, 5, 5\] are not divisible by groups=3/);
  assert.throws(() => conv2d(x, zeros([2, 4, 3, 3]), zeros([3])), /conv2d: bias must be \[2\] for weight \[2, 4, 3, 3\], got \[3\]/);
  assert.throws(() => conv2d(zeros([4, 5, 5]), zeros([2, 4, 3, 3])), /conv2d: input must be \[N, C, H, W\], got shape \[4, 5, 5\]/);
  assert.throws(() => conv2d(x, zeros([2, 4, 3])), /conv2d: weight must be \[O, C\/groups, KH, KW\], got shape \[2, 4, 3\]/);
  assert.throws(() => conv2d(x, zeros([2, 4, 7, 7])), /conv2d: padded input 5x5 of input \[1, 4, 5, 5\] is smaller than the \(dilated\) kernel 7x7 of weight \[2, 4, 7, 7\]/);
  assert.throws(() => conv2d(x, zeros([2, 4, 3, 3]), null, { dilation: 3 }), /kernel 7x7/);
  assert.throws(() => conv2d(x, zeros([2, 4, 3, 3]), null, { stride: 0 }), /conv2d: stride must be a positive integer or an \[h, w\] pair of them, got 0/);
  assert.throws(() => conv2d(x, zeros([2, 4, 3, 3]), null, { padding: [1, -1] }), /conv2d: padding must be a non-negative integer/);
  assert.throws(() => conv2d(x, zeros([2, 4, 3, 3]), null, { groups: 0 }), /conv2d: groups must be a positive integer, got 0/);
  assert.throws(() => conv2d(x, zeros([2, 4, 3, 3], 'float64')), /conv2d: dtype mismatch: float32 vs float64/);
});

test('pooling errors name the op and the shapes', () => {
  assert.throws(() => maxPool2d(zeros([1, 2, 4, 4]), { kernel: 2, padding: 2 }), /maxPool2d: padding \[2, 2\] must be at most half of the kernel \[2, 2\]/);
  assert.throws(() => avgPool2d(zeros([1, 2, 2, 2]), { kernel: 3 }), /avgPool2d: padded input 2x2 of input \[1, 2, 2, 2\] is smaller than the kernel 3x3/);
  assert.throws(() => avgPool2d(zeros([2, 2, 2]), { kernel: 1 }), /avgPool2d: input must be \[N, C, H, W\], got shape \[2, 2, 2\]/);
  assert.throws(() => maxPool2d(zeros([1, 1, 4, 4]), { kernel: 1.5 }), /maxPool2d: kernel must be a positive integer/);
  assert.throws(() => globalAvgPool(zeros([2, 3])), /globalAvgPool: input must be \[N, C, H, W\], got shape \[2, 3\]/);
});

test('batchNorm errors name the op and the shapes', () => {
  const x = zeros([2, 3, 2, 2]);
  const rm = zeros([3]), rv = ones([3]);
  assert.throws(() => batchNorm(x, zeros([2]), null, rm, rv, { training: true }), /batchNorm: gamma must be \[3\] for input \[2, 3, 2, 2\], got \[2\]/);
  assert.throws(() => batchNorm(x, null, zeros([3, 1]), rm, rv, { training: true }), /batchNorm: beta must be \[3\] for input \[2, 3, 2, 2\], got \[3, 1\]/);
  assert.throws(() => batchNorm(x, null, null, zeros([4]), rv, { training: false }), /batchNorm: runningMean must be \[3\]/);
  assert.throws(() => batchNorm(zeros([2, 3, 4]), null, null, rm, rv, { training: true }), /batchNorm: input must be \[N, C, H, W\] or \[N, C\], got shape \[2, 3, 4\]/);
  assert.throws(() => batchNorm(zeros([1, 3]), null, null, rm, rv, { training: true }), /batchNorm: expected more than 1 value per channel when training, got input \[1, 3\]/);
  assert.throws(() => batchNorm(x, null, null, null, null, { training: false }), /batchNorm: eval mode needs runningMean and runningVar/);
  assert.throws(() => batchNorm(x, null, null, rm, null, { training: true }), /batchNorm: runningMean and runningVar must be given together/);
  const tracked = zeros([3]);
  tracked.requiresGrad = true;
  assert.throws(() => batchNorm(x, null, null, tracked, rv, { training: true }), /batchNorm: running statistics are buffers updated in place and must not require grad/);
  assert.throws(() => batchNorm(x, null, null, rm, zeros([3], 'float64'), { training: true }), /batchNorm: dtype mismatch/);
});
