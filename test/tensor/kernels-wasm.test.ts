/**
 * Every wasm kernel against the `ts` reference kernel (float32 inputs), within 1e-5 norm-relative
 * error (max|a-b| / max(1, max|b|)), on random shapes including odd sizes, all trans combos,
 * accumulate, odd channel counts, groups / depthwise, and GEMM block-boundary sizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng, randF32, convGeom, close } from './kernel-helpers.js';
import { existsSync, readFileSync } from 'node:fs';
import { tsKernels as T } from '../../src/tensor/backends/ts/kernels.js';
import { wasmAvailable, wasmKernels } from '../../src/tensor/backends/wasm/index.js';
import { kernelOf } from '../../src/tensor/registry.js';
import { KERNELS_WASM_BASE64 } from '../../src/tensor/backends/wasm/kernels-wasm-bytes.js';
import type { ConvGeom, KernelMap, PoolGeom } from '../../src/tensor/kernels.js';


function W<K extends keyof KernelMap>(name: K): KernelMap[K] {
  const k = wasmKernels[name];
  assert.ok(k, `wasm kernel ${name} missing`);
  return k as KernelMap[K];
}

function poolGeom(N: number, C: number, H: number, Wd: number, k: number, s: number, p: number, ceil = false): PoolGeom {
  const size = (L: number): number => {
    let o = (ceil ? Math.ceil((L + 2 * p - k) / s) : Math.floor((L + 2 * p - k) / s)) + 1;
    if (ceil && (o - 1) * s >= L + p) o--;
    return o;
  };
  return { N, C, H, W: Wd, OH: size(H), OW: size(Wd), KH: k, KW: k, strideH: s, strideW: s, padH: p, padW: p };
}

test('wasm module instantiated and registered', () => {
  assert.equal(wasmAvailable(), true);
  assert.equal(kernelOf('wasm', 'matmul'), wasmKernels.matmul);
  const names: (keyof KernelMap)[] = [
    'matmul', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardFilter', 'maxPool2d', 'maxPool2dBackward',
    'avgPool2d', 'avgPool2dBackward', 'channelMoments', 'channelAffine', 'channelBackwardSums',
  ];
  for (const n of names) assert.equal(typeof wasmKernels[n], 'function', n);
});

test('embedded base64 module matches the committed kernels.wasm', (t) => {
  const path = 'src/tensor/backends/wasm/kernels.wasm';
  if (!existsSync(path)) {
    t.skip('kernels.wasm not found relative to the working directory');
    return;
  }
  assert.equal(KERNELS_WASM_BASE64, readFileSync(path).toString('base64'), 'run tools/build-wasm.sh to regenerate');
});

test('matmul: odd shapes x trans combos x accumulate, block boundaries', () => {
  const rnd = prng(11);
  const shapes: [number, number, number][] = [
    [1, 1, 1], [17, 33, 7], [7, 1, 13], [3, 5, 2], [4, 8, 8], [13, 300, 9], [130, 17, 5], [33, 520, 41], [2, 3, 2100],
  ];
  for (let r = 0; r < 4; r++) shapes.push([1 + Math.floor(rnd() * 70), 1 + Math.floor(rnd() * 300), 1 + Math.floor(rnd() * 70)]);
  for (const [M, K, N] of shapes)
    for (const tA of [false, true])
      for (const tB of [false, true])
        for (const acc of [false, true]) {
          const a = randF32(M * K, rnd), b = randF32(K * N, rnd), c0 = randF32(M * N, rnd);
          const want = c0.slice(), got = c0.slice();
          T.matmul(a, b, want, M, K, N, tA, tB, acc);
          W('matmul')(a, b, got, M, K, N, tA, tB, acc);
          close(got, want, `matmul ${M}x${K}x${N} tA=${tA} tB=${tB} acc=${acc}`);
        }
});

test('matmul: offset views and output longer than M*N', () => {
  const rnd = prng(12);
  const M = 5, K = 9, N = 6;
  const abig = randF32(M * K + 3, rnd), bbig = randF32(K * N + 5, rnd);
  const a = abig.subarray(3), b = bbig.subarray(5);
  const want = new Float32Array(M * N + 4).fill(9), got = want.slice();
  T.matmul(a, b, want, M, K, N, false, false, false);
  W('matmul')(a, b, got, M, K, N, false, false, false);
  close(got, want, 'views');
  assert.equal(got[M * N], 9, 'elements past M*N untouched');
});

test('float64 inputs are delegated to the ts kernels', () => {
  const rnd = prng(13);
  const a = Float64Array.from(randF32(12, rnd)), b = Float64Array.from(randF32(20, rnd));
  const want = new Float64Array(15), got = new Float64Array(15);
  T.matmul(a, b, want, 3, 4, 5, false, false, false);
  W('matmul')(a, b, got, 3, 4, 5, false, false, false);
  assert.deepEqual([...got], [...want]);
  const x = Float64Array.from(randF32(2 * 3 * 10, rnd));
  const m1 = new Float64Array(3), v1 = new Float64Array(3), m2 = new Float64Array(3), v2 = new Float64Array(3);
  T.channelMoments(x, m1, v1, 2, 3, 10);
  W('channelMoments')(x, m2, v2, 2, 3, 10);
  assert.deepEqual([...m2, ...v2], [...m1, ...v1]);
});

const CONV_CASES: [string, ConvGeom][] = [
  ['3x3 p1 odd channels', convGeom({ N: 2, C: 3, H: 7, W: 9, O: 5, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['3x3 s2 p1', convGeom({ N: 3, C: 5, H: 11, W: 10, O: 7, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['3x3 s2 wide (SIMD stride-2 gather)', convGeom({ N: 1, C: 2, H: 9, W: 37, O: 3, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['dilation 2', convGeom({ N: 2, C: 3, H: 10, W: 9, O: 4, KH: 3, KW: 3, pH: 2, pW: 2, dH: 2, dW: 2 })],
  ['groups 2', convGeom({ N: 2, C: 6, H: 8, W: 7, O: 10, KH: 3, KW: 3, pH: 1, pW: 1, groups: 2 })],
  ['depthwise', convGeom({ N: 2, C: 7, H: 9, W: 8, O: 7, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1, groups: 7 })],
  ['depthwise multiplier 2', convGeom({ N: 1, C: 5, H: 6, W: 6, O: 10, KH: 5, KW: 5, pH: 2, pW: 2, groups: 5 })],
  ['depthwise dilation2 s(1,2)', convGeom({ N: 2, C: 4, H: 9, W: 10, O: 4, KH: 3, KW: 3, sH: 1, sW: 2, pH: 2, pW: 1, dH: 2, dW: 2, groups: 4 })],
  ['depthwise wide s1', convGeom({ N: 2, C: 3, H: 7, W: 29, O: 3, KH: 3, KW: 3, pH: 1, pW: 1, groups: 3 })],
  ['depthwise wide s2', convGeom({ N: 2, C: 3, H: 7, W: 41, O: 6, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1, groups: 3 })],
  ['1x1', convGeom({ N: 2, C: 13, H: 5, W: 7, O: 9, KH: 1, KW: 1 })],
  ['1x1 s2', convGeom({ N: 2, C: 9, H: 8, W: 7, O: 6, KH: 1, KW: 1, sH: 2, sW: 2 })],
  ['2x3 mixed', convGeom({ N: 2, C: 3, H: 9, W: 11, O: 5, KH: 2, KW: 3, sH: 2, sW: 3, pH: 0, pW: 2, dH: 2, dW: 1 })],
  ['CK > KC block', convGeom({ N: 2, C: 33, H: 6, W: 6, O: 17, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['resnet-like 16ch', convGeom({ N: 2, C: 16, H: 16, W: 16, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['direct: CK > KC and OHW > NC', convGeom({ N: 1, C: 33, H: 25, W: 25, O: 5, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['direct: stride (2,1), dilation (2,3)', convGeom({ N: 2, C: 3, H: 12, W: 19, O: 6, KH: 3, KW: 2, sH: 2, sW: 1, pH: 1, pW: 0, dH: 2, dW: 3 })],
  ['stride 1 pad 0', convGeom({ N: 2, C: 4, H: 10, W: 11, O: 3, KH: 3, KW: 3 })],
  ['stride 1 pad 2 dilation 2 (asym pads)', convGeom({ N: 1, C: 5, H: 11, W: 17, O: 6, KH: 3, KW: 3, pH: 1, pW: 3, dH: 2, dW: 2 })],
  ['groups 2 wide', convGeom({ N: 2, C: 6, H: 9, W: 13, O: 4, KH: 3, KW: 3, pH: 1, pW: 1, groups: 2 })],
  ['5x5 pad 2, OW=8', convGeom({ N: 3, C: 3, H: 8, W: 8, O: 9, KH: 5, KW: 5, pH: 2, pW: 2 })],
  ['stride 2, O=19, OHW > 256', convGeom({ N: 2, C: 4, H: 35, W: 35, O: 19, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['stride 3, 4x4 kernel', convGeom({ N: 2, C: 3, H: 17, W: 20, O: 4, KH: 4, KW: 4, sH: 3, sW: 3, pH: 1, pW: 2 })],
  ['pad larger than kernel reach', convGeom({ N: 1, C: 2, H: 9, W: 10, O: 3, KH: 3, KW: 3, pH: 3, pW: 3 })],
];

/** The three convolution kernels, wasm against ts, on each case (outputs start as garbage). */
function checkConvs(cases: readonly [string, ConvGeom][], seed: number): void {
  const rnd = prng(seed);
  for (const [label, g] of cases) {
    const x = randF32(g.N * g.C * g.H * g.W, rnd);
    const w = randF32(g.O * (g.C / g.groups) * g.KH * g.KW, rnd);
    const dy = randF32(g.N * g.O * g.OH * g.OW, rnd);
    const o1 = new Float32Array(dy.length), o2 = new Float32Array(dy.length).fill(3);
    T.conv2d(x, w, o1, g);
    W('conv2d')(x, w, o2, g);
    close(o2, o1, `conv2d ${label}`);
    const dx1 = new Float32Array(x.length), dx2 = new Float32Array(x.length).fill(3);
    T.conv2dBackwardInput(dy, w, dx1, g);
    W('conv2dBackwardInput')(dy, w, dx2, g);
    close(dx2, dx1, `conv2dBackwardInput ${label}`);
    const dw1 = new Float32Array(w.length), dw2 = new Float32Array(w.length).fill(3);
    T.conv2dBackwardFilter(x, dy, dw1, g);
    W('conv2dBackwardFilter')(x, dy, dw2, g);
    close(dw2, dw1, `conv2dBackwardFilter ${label}`);
  }
}

test('conv2d / backward input / backward filter: wasm == ts', () => checkConvs(CONV_CASES, 21));

// 3x3 / stride 1 / dilation 1 / groups 1 with C, O >= 8 take the Winograd F(2x2, 3x3) path (forward,
// the input gradient through the flipped-weight forward conv, and the filter gradient): odd output sizes (clipped edge tiles),
// N = 1, O not a multiple of 4, pads 0 and 2, several tile-row blocks per image, 3- and 4-wide outputs (images
// paired), ResNet-20 shapes at batch 64.
const WINO_CASES: [string, ConvGeom][] = [
  ['odd 7x9, N=1', convGeom({ N: 1, C: 8, H: 7, W: 9, O: 8, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['odd 9x7, O=13, C=11', convGeom({ N: 2, C: 11, H: 9, W: 7, O: 13, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['pad 0, odd output', convGeom({ N: 2, C: 12, H: 10, W: 13, O: 9, KH: 3, KW: 3 })],
  ['pad 2', convGeom({ N: 1, C: 9, H: 6, W: 5, O: 10, KH: 3, KW: 3, pH: 2, pW: 2 })],
  ['asym pads (0, 1)', convGeom({ N: 1, C: 10, H: 8, W: 11, O: 12, KH: 3, KW: 3, pH: 0, pW: 1 })],
  ['1x1 output', convGeom({ N: 3, C: 8, H: 3, W: 3, O: 8, KH: 3, KW: 3 })],
  ['many tile-row blocks, odd', convGeom({ N: 2, C: 40, H: 27, W: 29, O: 20, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['wide C=130', convGeom({ N: 1, C: 130, H: 6, W: 10, O: 70, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['dy read in place (OW % 8 == 0), odd OH', convGeom({ N: 3, C: 8, H: 7, W: 16, O: 12, KH: 3, KW: 3, pH: 1, pW: 1 })],
  // 3- or 4-wide outputs (two tile columns): two images share each 4-tile group
  ['paired 4x4, odd N', convGeom({ N: 3, C: 9, H: 4, W: 4, O: 10, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['paired 3 wide, odd OH', convGeom({ N: 4, C: 8, H: 5, W: 3, O: 8, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['paired pad 0', convGeom({ N: 2, C: 8, H: 6, W: 5, O: 9, KH: 3, KW: 3 })],
  ['paired pad 2', convGeom({ N: 5, C: 8, H: 3, W: 2, O: 12, KH: 3, KW: 3, pH: 2, pW: 2 })],
  ['smallcnn conv5 64@4x4 N=32', convGeom({ N: 32, C: 64, H: 4, W: 4, O: 64, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['resnet20 16@32x32 N=64', convGeom({ N: 64, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['resnet20 32@16x16 N=64', convGeom({ N: 64, C: 32, H: 16, W: 16, O: 32, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['resnet20 64@8x8 N=64', convGeom({ N: 64, C: 64, H: 8, W: 8, O: 64, KH: 3, KW: 3, pH: 1, pW: 1 })],
];

test('conv2d / backward input / backward filter, Winograd shapes: wasm == ts', () => checkConvs(WINO_CASES, 23));

test('Winograd filter gradient, odd image paired with nothing: stale NaN in scratch memory does not leak in', () => {
  // a call whose dy is NaN leaves NaN in the arena where the next call's empty partner slots lie
  const geo = (N: number): ConvGeom => convGeom({ N, C: 8, H: 4, W: 4, O: 8, KH: 3, KW: 3, pH: 1, pW: 1 });
  W('conv2dBackwardFilter')(new Float32Array(2 * 128).fill(1), new Float32Array(2 * 128).fill(NaN), new Float32Array(576), geo(2));
  const rnd = prng(77);
  const x = randF32(128, rnd), dy = randF32(128, rnd);
  const dw = new Float32Array(576), ref = new Float32Array(576);
  W('conv2dBackwardFilter')(x, dy, dw, geo(1));
  T.conv2dBackwardFilter(x, dy, ref, geo(1));
  assert.ok(dw.every(Number.isFinite), 'NaN leaked into the filter gradient');
  close(dw, ref, 'filter gradient N=1');
});

test('pooling (+backward): wasm == ts, argmax identical', () => {
  const rnd = prng(31);
  const cases: PoolGeom[] = [
    poolGeom(2, 3, 8, 8, 2, 2, 0),
    poolGeom(1, 5, 9, 7, 3, 2, 1),
    poolGeom(2, 3, 7, 7, 2, 2, 0, true),
    poolGeom(1, 2, 6, 5, 3, 2, 1, true),
    poolGeom(3, 7, 8, 8, 8, 1, 0),
    poolGeom(1, 1, 13, 11, 3, 1, 1),
    poolGeom(1, 2, 9, 40, 3, 3, 1),
    poolGeom(2, 2, 10, 21, 2, 1, 0),
  ];
  for (const g of cases) {
    const label = JSON.stringify(g);
    const nx = g.N * g.C * g.H * g.W, no = g.N * g.C * g.OH * g.OW;
    const x = randF32(nx, rnd), dy = randF32(no, rnd);
    const o1 = new Float32Array(no), o2 = new Float32Array(no), a1 = new Int32Array(no), a2 = new Int32Array(no);
    T.maxPool2d(x, o1, a1, g);
    W('maxPool2d')(x, o2, a2, g);
    close(o2, o1, `maxPool2d ${label}`, 0);
    assert.deepEqual([...a2], [...a1], `argmax ${label}`);
    const d1 = new Float32Array(nx), d2 = new Float32Array(nx).fill(3);
    T.maxPool2dBackward(dy, a1, d1, g);
    W('maxPool2dBackward')(dy, a1, d2, g);
    close(d2, d1, `maxPool2dBackward ${label}`);
    T.avgPool2d(x, o1, g);
    W('avgPool2d')(x, o2, g);
    close(o2, o1, `avgPool2d ${label}`);
    T.avgPool2dBackward(dy, d1, g);
    W('avgPool2dBackward')(dy, d2, g);
    close(d2, d1, `avgPool2dBackward ${label}`);
  }
});

test('channel kernels: wasm == ts (odd HW, odd C)', () => {
  const rnd = prng(41);
  for (const [N, C, HW] of [[1, 1, 1], [2, 3, 5], [3, 7, 17], [4, 16, 64], [2, 5, 3], [8, 9, 1023]] as [number, number, number][]) {
    const label = `N=${N} C=${C} HW=${HW}`;
    const x = randF32(N * C * HW, rnd);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * 2 + 3;
    const dy = randF32(x.length, rnd);
    const m1 = new Float32Array(C), v1 = new Float32Array(C), m2 = new Float32Array(C), v2 = new Float32Array(C);
    T.channelMoments(x, m1, v1, N, C, HW);
    W('channelMoments')(x, m2, v2, N, C, HW);
    close(m2, m1, `mean ${label}`);
    close(v2, v1, `variance ${label}`);
    const scale = randF32(C, rnd), shift = randF32(C, rnd), invstd = new Float32Array(C);
    for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(v1[c]! + 1e-5);
    const y1 = new Float32Array(x.length), y2 = new Float32Array(x.length);
    T.channelAffine(x, m1, scale, shift, y1, N, C, HW);
    W('channelAffine')(x, m1, scale, shift, y2, N, C, HW);
    close(y2, y1, `affine ${label}`);
    const s1 = new Float32Array(C), t1 = new Float32Array(C), s2 = new Float32Array(C), t2 = new Float32Array(C);
    T.channelBackwardSums(dy, x, m1, invstd, s1, t1, N, C, HW);
    W('channelBackwardSums')(dy, x, m1, invstd, s2, t2, N, C, HW);
    close(s2, s1, `sumDy ${label}`);
    close(t2, t1, `sumDyXhat ${label}`);
  }
});

test('maxPool2d: ties pick the first index and NaN propagates, same as ts', () => {
  const rnd = prng(51);
  for (const g of [poolGeom(2, 2, 9, 20, 3, 1, 1), poolGeom(1, 3, 12, 25, 2, 2, 0), poolGeom(1, 1, 11, 30, 3, 3, 1)]) {
    const nx = g.N * g.C * g.H * g.W, no = g.N * g.C * g.OH * g.OW;
    const x = new Float32Array(nx);
    for (let i = 0; i < nx; i++) x[i] = Math.floor(rnd() * 3) - 1; // many ties (incl. -1 < 0 padding irrelevance)
    for (let i = 0; i < nx; i += 17) x[i] = NaN;
    const o1 = new Float32Array(no), o2 = new Float32Array(no), a1 = new Int32Array(no), a2 = new Int32Array(no);
    T.maxPool2d(x, o1, a1, g);
    W('maxPool2d')(x, o2, a2, g);
    assert.deepEqual([...o2], [...o1]);
    assert.deepEqual([...a2], [...a1]);
  }
});
