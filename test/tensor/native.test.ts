/**
 * Native (N-API + OpenBLAS) backend: matmul and the three convolution kernels against the `ts`
 * reference within 1e-5 error relative to max |ref|, on odd, empty, strided, padded, dilated,
 * grouped, depthwise, 1×1 and non-square shapes; the batch-norm kernels and the relu / add /
 * batch-norm fast paths against `ts` (affine maps and dx bit-exact, sums to 1e-5) at 1 and 2 threads,
 * bit-identical across thread counts, on odd and large shapes (relu with NaN / ±0 / denormals); a ResNet-20 training step through the engine on
 * `native` vs `wasm`; METAPRUNE_BACKEND=native selection and its fallback; the addon's thread pool
 * (2 threads vs 1: forward and dX bit-identical, dW deterministic, all within tolerance of `ts`; a
 * child process that started the pool exits on its own). Skipped when the addon is not built (it
 * is an optional dependency).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng, randF32, relErr, convGeom, sameBits } from './kernel-helpers.js';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import '../../src/tensor/backends/index.js';
import { setThreads, getThreads } from '../../src/tensor/backends/index.js';
import { nativeAvailable, nativeFastOps, nativeInfo, nativeKernels, nativeThreadInfo, setNativeDnnl } from '../../src/tensor/backends/native/index.js';
import { existsSync } from 'node:fs';
import { tsKernels as T } from '../../src/tensor/backends/ts/kernels.js';
import type { ConvGeom, KernelMap } from '../../src/tensor/kernels.js';
import { kernelOf, withBackend, getBackend } from '../../src/tensor/registry.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import { buildModel, modelEntry } from '../../src/models/index.js';
import { initParams, cloneParams } from '../../src/ir/init.js';
import { forward } from '../../src/ir/forward.js';
import { trainableNames, type Params } from '../../src/ir/graph.js';
import { Sgd } from '../../src/train/optim.js';

const TOL = 1e-5;

const requireHere = createRequire(import.meta.url);

/** The addon file the backend loads (installed package, else the development build), or ''. */
function addonPath(): string {
  for (const c of ['metaprune-native', '../../../native/build/Release/metaprune_native.node', '../../native/build/Release/metaprune_native.node']) {
    try { return requireHere.resolve(c); } catch { /* next */ }
  }
  return '';
}
const skip = nativeAvailable() ? false : 'native backend not built';

function close(a: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  const e = relErr(a, ref, 1e-30); // relative to max |ref|, however small
  assert.ok(e <= TOL, `${what}: rel err ${e} > ${TOL}`);
}

/** The convolution paths to check: oneDNN (when the addon was built with it) and the addon's im2col + sgemm. */
const CONV_PATHS: [string, boolean][] = nativeInfo()?.dnnl ? [['oneDNN', true], ['im2col', false]] : [['im2col', false]];

function withDnnl<R>(on: boolean, fn: () => R): R {
  const prev = nativeInfo()!.dnnl;
  setNativeDnnl(on);
  try {
    return fn();
  } finally {
    setNativeDnnl(prev);
  }
}

function NK<N extends keyof KernelMap>(name: N): KernelMap[N] {
  const k = nativeKernels[name];
  assert.ok(k, `native kernel ${name} missing`);
  return k as KernelMap[N];
}

test('native backend registers on top of wasm, with addon info', { skip }, () => {
  assert.equal(kernelOf('native', 'matmul'), nativeKernels.matmul);
  assert.equal(kernelOf('native', 'conv2d'), nativeKernels.conv2d);
  // pooling / batch norm come from wasm
  assert.ok(kernelOf('native', 'maxPool2d'));
  assert.equal(kernelOf('native', 'maxPool2d'), kernelOf('wasm', 'maxPool2d'));
  const info = nativeInfo();
  assert.ok(info);
  assert.match(info.blas, /OpenBLAS/);
});

test('loading the addon leaves the environment as it was (OpenMP policy set only for the load)', { skip }, () => {
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e',
    `const n = await import(${JSON.stringify(pathToFileURL(fileURLToPath(new URL('../../src/tensor/backends/native/index.js', import.meta.url))).href)});
     console.log(JSON.stringify({ ok: n.nativeAvailable(), policy: process.env.OMP_WAIT_POLICY ?? process.env.GOMP_SPINCOUNT ?? null }));`], {
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'OMP_WAIT_POLICY' && k !== 'GOMP_SPINCOUNT')),
    encoding: 'utf8', timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { ok: true, policy: null });
});

test('the addon is built with oneDNN where its headers are installed, and METAPRUNE_DNNL=0 switches it off', { skip }, () => {
  const headers = existsSync('/usr/include/dnnl.h') && process.env.METAPRUNE_NATIVE_DNNL !== '0';
  if (process.env.METAPRUNE_DNNL !== '0') assert.equal(nativeInfo()!.dnnl, headers, 'oneDNN convolutions');
  if (!headers) return;
  const backendUrl = pathToFileURL(fileURLToPath(new URL('../../src/tensor/backends/native/index.js', import.meta.url))).href;
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e',
    `const n = await import(${JSON.stringify(backendUrl)}); console.log(JSON.stringify(n.nativeInfo()));`], {
    env: { ...process.env, METAPRUNE_DNNL: '0' }, encoding: 'utf8', timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout.trim()) as { dnnl: boolean }).dnnl, false);
});

test('matmul == ts: every trans/accumulate combination, odd and empty sizes', { skip }, () => {
  const rnd = prng(11);
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 7, 1], [3, 1, 5], [17, 33, 7], [67, 129, 131], [5, 600, 33], [130, 257, 65],
    [0, 4, 3], [4, 0, 3], [4, 3, 0], [0, 0, 0],
  ];
  for (const [M, K, N] of shapes) {
    for (const tA of [false, true]) for (const tB of [false, true]) for (const acc of [false, true]) {
      const a = randF32(M * K, rnd), b = randF32(K * N, rnd), c0 = randF32(M * N, rnd);
      const ref = c0.slice(), got = c0.slice();
      T.matmul(a, b, ref, M, K, N, tA, tB, acc);
      NK('matmul')(a, b, got, M, K, N, tA, tB, acc);
      close(got, ref, `matmul ${M}x${K}x${N} tA=${tA} tB=${tB} acc=${acc}`);
      if (!acc && K === 0 && M * N > 0) assert.ok(got.every((v) => v === 0), 'K = 0 must zero C');
    }
  }
});

test('matmul on subarray views works in place (offsets honoured)', { skip }, () => {
  const rnd = prng(12);
  const M = 9, K = 13, N = 11;
  const big = randF32(5 + M * K + K * N + M * N, rnd);
  const a = big.subarray(5, 5 + M * K), b = big.subarray(5 + M * K, 5 + M * K + K * N);
  const c = big.subarray(5 + M * K + K * N);
  const ref = new Float32Array(M * N);
  T.matmul(a, b, ref, M, K, N, false, false, false);
  NK('matmul')(a, b, c, M, K, N, false, false, false);
  close(c, ref, 'matmul on views');
});

const CONVS: [string, ConvGeom][] = [
  ['3x3 pad 1 stride 1', convGeom({ N: 3, C: 5, H: 9, W: 9, O: 7, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['3x3 pad 1 stride 2', convGeom({ N: 2, C: 6, H: 11, W: 10, O: 4, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['1x1', convGeom({ N: 3, C: 8, H: 6, W: 5, O: 12, KH: 1, KW: 1 })],
  ['1x1 stride 2 (ResNet shortcut)', convGeom({ N: 2, C: 8, H: 8, W: 8, O: 16, KH: 1, KW: 1, sH: 2, sW: 2 })],
  ['5x5 dilation 2 pad 3', convGeom({ N: 2, C: 3, H: 13, W: 12, O: 5, KH: 5, KW: 5, dH: 2, dW: 2, pH: 3, pW: 3 })],
  ['grouped (groups 2)', convGeom({ N: 2, C: 6, H: 7, W: 7, O: 8, KH: 3, KW: 3, pH: 1, pW: 1, groups: 2 })],
  ['depthwise', convGeom({ N: 2, C: 6, H: 9, W: 8, O: 6, KH: 3, KW: 3, pH: 1, pW: 1, groups: 6 })],
  ['depthwise x2 multiplier stride 2', convGeom({ N: 2, C: 4, H: 9, W: 9, O: 8, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1, groups: 4 })],
  ['non-square 3x5 kernel, 2x1 stride', convGeom({ N: 3, C: 4, H: 10, W: 7, O: 5, KH: 3, KW: 5, sH: 2, sW: 1, pH: 1, pW: 2 })],
  // oneDNN wants the padded input to end exactly at the last window: this one (floor) it declines, so the addon falls back
  ['stride 2 dropping the last row and column', convGeom({ N: 2, C: 3, H: 6, W: 6, O: 4, KH: 3, KW: 3, sH: 2, sW: 2 })],
  ['pad larger than kernel reach', convGeom({ N: 1, C: 2, H: 3, W: 4, O: 3, KH: 2, KW: 2, sH: 3, sW: 3, pH: 4, pW: 4 })],
  ['single image 1x1 output', convGeom({ N: 1, C: 3, H: 3, W: 3, O: 2, KH: 3, KW: 3 })],
  ['empty batch', convGeom({ N: 0, C: 3, H: 5, W: 5, O: 2, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['batch 64 ResNet stage 3 (batched GEMM)', convGeom({ N: 64, C: 16, H: 8, W: 8, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
];

for (const [path, dnnl] of CONV_PATHS) for (const [label, g] of CONVS) {
  test(`conv2d / dX / dW == ts (${path}): ${label}`, { skip }, () => withDnnl(dnnl, () => {
    const rnd = prng(label.length * 31 + g.C);
    const nX = g.N * g.C * g.H * g.W, nW = g.O * (g.C / g.groups) * g.KH * g.KW, nY = g.N * g.O * g.OH * g.OW;
    const x = randF32(nX, rnd), w = randF32(nW, rnd), dy = randF32(nY, rnd);
    // outputs start as garbage: the kernels must overwrite them
    const refY = new Float32Array(nY), gotY = randF32(nY, rnd);
    T.conv2d(x, w, refY, g);
    NK('conv2d')(x, w, gotY, g);
    close(gotY, refY, `${label} forward`);
    const refDx = new Float32Array(nX), gotDx = randF32(nX, rnd);
    T.conv2dBackwardInput(dy, w, refDx, g);
    NK('conv2dBackwardInput')(dy, w, gotDx, g);
    close(gotDx, refDx, `${label} dX`);
    const refDw = new Float32Array(nW), gotDw = randF32(nW, rnd);
    T.conv2dBackwardFilter(x, dy, refDw, g);
    NK('conv2dBackwardFilter')(x, dy, gotDw, g);
    close(gotDw, refDw, `${label} dW`);
    // the fast paths ops use compute the same
    close(nativeFastOps.conv2d(x, w, g), refY, `${label} fast conv2d`);
    const [fdx, fdw] = nativeFastOps.conv2dBackward(dy, w, x, true, true, g);
    close(fdx!, refDx, `${label} fast dX`);
    close(fdw!, refDw, `${label} fast dW`);
    // the reference must not be trivially zero, or the comparison proves nothing
    if (nY > 0) assert.ok(refY.some((v) => v !== 0) && refDw.some((v) => v !== 0));
  }));
}

test('float64 inputs fall back to the ts kernels', { skip }, () => {
  const g = convGeom({ N: 1, C: 2, H: 5, W: 5, O: 3, KH: 3, KW: 3, pH: 1, pW: 1 });
  const rnd = prng(3);
  const x = Float64Array.from(randF32(50, rnd)), w = Float64Array.from(randF32(54, rnd));
  const ref = new Float64Array(75), got = new Float64Array(75);
  T.conv2d(x, w, ref, g);
  NK('conv2d')(x, w, got, g);
  assert.deepEqual(got, ref);
});

test('float64 inputs of the batch-norm kernels fall back to the ts kernels', { skip }, () => {
  const rnd = prng(4);
  const N = 2, C = 3, HW = 5, n = N * C * HW;
  const x = Float64Array.from(randF32(n, rnd, 1, 2)), dy = Float64Array.from(randF32(n, rnd));
  const m = Float64Array.from(randF32(C, rnd)), s = Float64Array.from(randF32(C, rnd)), b = Float64Array.from(randF32(C, rnd));
  const r1 = new Float64Array(C), r2 = new Float64Array(C), g1 = new Float64Array(C), g2 = new Float64Array(C);
  T.channelMoments(x, r1, r2, N, C, HW);
  NK('channelMoments')(x, g1, g2, N, C, HW);
  assert.deepEqual([g1, g2], [r1, r2]);
  const ro = new Float64Array(n), go = new Float64Array(n);
  T.channelAffine(x, m, s, b, ro, N, C, HW);
  NK('channelAffine')(x, m, s, b, go, N, C, HW);
  assert.deepEqual(go, ro);
  T.channelBackwardSums(dy, x, m, s, r1, r2, N, C, HW);
  NK('channelBackwardSums')(dy, x, m, s, g1, g2, N, C, HW);
  assert.deepEqual([g1, g2], [r1, r2]);
});

// [N, C, HW]: odd shapes (N = 1, C = 3, HW = 1 / 49 / not a multiple of 4) and large ones where the pool engages.
const BN_SHAPES: [number, number, number][] = [
  [1, 3, 1], [1, 3, 49], [1, 1, 7], [5, 3, 1], [2, 3, 49], [33, 5, 49], [130, 3, 257], [64, 16, 1024], [64, 64, 64], [3, 0, 4], [0, 3, 4],
];

/** Everything the batch-norm kernels and fast paths compute for one input, on the native backend at `threads`. */
function bnNative(threads: number, x: Float32Array, dy: Float32Array, scale: Float32Array, shift: Float32Array,
  N: number, C: number, HW: number) {
  return withThreads(threads, () => {
    const n = N * C * HW;
    const mean = new Float32Array(C).fill(NaN), variance = new Float32Array(C).fill(NaN);
    NK('channelMoments')(x, mean, variance, N, C, HW);
    const y = new Float32Array(n).fill(NaN);
    NK('channelAffine')(x, mean, scale, shift, y, N, C, HW);
    const sDy = new Float32Array(C).fill(NaN), sDyXhat = new Float32Array(C).fill(NaN);
    NK('channelBackwardSums')(dy, x, mean, scale, sDy, sDyXhat, N, C, HW);
    // fast paths
    const fMean = new Float32Array(C).fill(NaN), fVar = new Float32Array(C).fill(NaN);
    let coefCalls = 0;
    const fy = nativeFastOps.batchNormForward(x, fMean, fVar, N, C, HW, () => {
      coefCalls++;
      sameBits(fMean, mean, 'mean seen by coefs()');
      return [scale, shift];
    });
    const fs = new Float32Array(C).fill(NaN), ft = new Float32Array(C).fill(NaN);
    const k2 = Float32Array.from(scale, (v, c) => v * 0.5 + c), k3 = Float32Array.from(shift, (v) => -v);
    const fdx = nativeFastOps.batchNormBackward(dy, x, mean, scale, fs, ft, N, C, HW, true, () => {
      coefCalls++;
      sameBits(fs, sDy, 'sumDy seen by coefs()');
      return [scale, k2, k3];
    })!;
    const gs = new Float32Array(C).fill(NaN), gt = new Float32Array(C).fill(NaN);
    const none = nativeFastOps.batchNormBackward(dy, x, mean, scale, gs, gt, N, C, HW, false, () => {
      throw new Error('coefs() without wantDx');
    });
    assert.equal(none, null);
    assert.equal(coefCalls, 2);
    return { mean, variance, y, sDy, sDyXhat, fMean, fVar, fy, fs, ft, fdx, gs, gt, k2, k3 };
  });
}

for (const [N, C, HW] of BN_SHAPES) {
  test(`batch-norm kernels and fast paths == ts at 1 and 2 threads, bit-identical across thread counts: N=${N} C=${C} HW=${HW}`, { skip }, () => {
    const rnd = prng(N * 1000 + C * 10 + HW);
    const n = N * C * HW;
    const x = randF32(n, rnd, 2, 0.5), dy = randF32(n, rnd);
    const scale = randF32(C, rnd, 1.5), shift = randF32(C, rnd);
    const runs = [bnNative(1, x, dy, scale, shift, N, C, HW), bnNative(2, x, dy, scale, shift, N, C, HW)];
    // ts reference
    const mean0 = new Float32Array(C), var0 = new Float32Array(C);
    T.channelMoments(x, mean0, var0, N, C, HW);
    for (const [t, r] of runs.entries()) {
      const th = `${t + 1} thread(s)`;
      close(r.mean, mean0, `mean (${th})`);
      close(r.variance, var0, `variance (${th})`);
      // affine and dx: same double arithmetic as ts, so exact given the same mean
      const y0 = new Float32Array(n);
      T.channelAffine(x, r.mean, scale, shift, y0, N, C, HW);
      sameBits(r.y, y0, `affine (${th})`);
      const s0 = new Float32Array(C), t0 = new Float32Array(C);
      T.channelBackwardSums(dy, x, r.mean, scale, s0, t0, N, C, HW);
      close(r.sDy, s0, `sumDy (${th})`);
      close(r.sDyXhat, t0, `sumDyXhat (${th})`);
      // the fast paths run the same kernels
      sameBits(r.fMean, r.mean, `fused mean (${th})`);
      sameBits(r.fVar, r.variance, `fused variance (${th})`);
      sameBits(r.fy, r.y, `fused forward (${th})`);
      sameBits(r.fs, r.sDy, `fused sumDy (${th})`);
      sameBits(r.ft, r.sDyXhat, `fused sumDyXhat (${th})`);
      sameBits(r.gs, r.sDy, `sums only (${th})`);
      sameBits(r.gt, r.sDyXhat, `sums only (${th})`);
      // dx: the batch-norm op's fallback loops (channelAffine, then += k1·dy)
      const dx0 = new Float32Array(n);
      T.channelAffine(x, r.mean, r.k2, r.k3, dx0, N, C, HW);
      for (let i = 0; i < n; i++) dx0[i] += scale[Math.floor(i / HW) % C]! * dy[i]!;
      sameBits(r.fdx, dx0, `fused dx (${th})`);
    }
    const [a, b] = runs as [typeof runs[0], typeof runs[0]];
    for (const k of ['mean', 'variance', 'y', 'sDy', 'sDyXhat', 'fdx'] as const) sameBits(a[k], b[k], `${k}: 1 vs 2 threads`);
  });
}

test('relu / relu backward / add fast paths: exact (NaN, ±0, ±Infinity, denormals), 1 and 2 threads, fresh arrays', { skip }, () => {
  const rnd = prng(606);
  for (const n of [0, 1, 3, 49, 4097, 65536 + 13, 1 << 20]) {
    const x = randF32(n, rnd), g = randF32(n, rnd), b = randF32(n, rnd);
    if (n > 8) {
      x[0] = NaN; x[1] = -0; x[2] = Infinity; x[3] = -Infinity; x[4] = 1e-40; x[5] = -1e-40;
      g[7] = NaN; b[2] = -Infinity; b[1] = -0;
    }
    const relu0 = x.map((v) => (v > 0 ? v : 0));
    const back0 = g.map((v, i) => (relu0[i]! > 0 ? v : 0));
    const add0 = x.map((v, i) => v + b[i]!);
    for (const th of [1, 2]) {
      withThreads(th, () => {
        const relu = nativeFastOps.relu(x);
        const back = nativeFastOps.reluBackward(relu, g);
        const sum = nativeFastOps.add(x, b);
        assert.ok(relu !== x && sum !== x && sum !== b && back !== g, 'fresh arrays');
        sameBits(relu, relu0, `relu n=${n} (${th})`);
        sameBits(back, back0, `relu backward n=${n} (${th})`);
        sameBits(sum, add0, `add n=${n} (${th})`);
      });
    }
  }
  // subarray views: offsets honoured
  const big = randF32(100, rnd);
  const v = big.subarray(3, 53), w = big.subarray(50, 100);
  sameBits(nativeFastOps.add(v, w), v.map((a, i) => a + w[i]!), 'add on views');
  sameBits(nativeFastOps.relu(w), w.map((a) => (a > 0 ? a : 0)), 'relu on a view');
});

test('native batch-norm and elementwise paths are registered (not the wasm ones)', { skip }, () => {
  for (const k of ['channelMoments', 'channelAffine', 'channelBackwardSums'] as const) {
    assert.equal(kernelOf('native', k), nativeKernels[k]);
    assert.notEqual(kernelOf('native', k), kernelOf('wasm', k));
  }
});

test('threads: 1 and 2 give the same result; setThreads sizes the pool, OpenBLAS stays at 1 thread', { skip }, () => {
  const prev = getThreads();
  const rnd = prng(5);
  const g = convGeom({ N: 16, C: 16, H: 16, W: 16, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 });
  const x = randF32(g.N * g.C * g.H * g.W, rnd), w = randF32(g.O * g.C * 9, rnd);
  const ref = new Float32Array(g.N * g.O * g.OH * g.OW);
  T.conv2d(x, w, ref, g);
  const blas = Number(process.env.METAPRUNE_BLAS_THREADS);
  try {
    for (const n of [1, 2]) {
      setThreads(n);
      const info = nativeThreadInfo()!;
      assert.equal(info.threads, n);
      assert.equal(info.blasThreads, Number.isInteger(blas) && blas >= 1 ? blas : 1);
      const y = new Float32Array(ref.length);
      NK('conv2d')(x, w, y, g);
      close(y, ref, `conv2d with ${n} thread(s)`);
    }
    // Debian's libopenblas0-pthread: safe to call from several threads at once with its thread count at 1
    assert.equal(nativeThreadInfo()!.parallel, 1);
  } finally {
    setThreads(prev);
  }
});

/** Runs fn with the kernels' thread count set to n (the pool's size), restoring it afterwards. */
function withThreads<R>(n: number, fn: () => R): R {
  const prev = getThreads();
  setThreads(n);
  try {
    return fn();
  } finally {
    setThreads(prev);
  }
}

// Big enough that the pool engages (about 1M multiply-adds and more than one image batch), odd batch sizes.
const POOL_CONVS: [string, ConvGeom][] = [
  ['batch 1 (one image: runs on one thread)', convGeom({ N: 1, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['batch 3, 16@32²', convGeom({ N: 3, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['batch 33, 32@16²', convGeom({ N: 33, C: 32, H: 16, W: 16, O: 32, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['batch 33, stride 2 16 -> 32 channels', convGeom({ N: 33, C: 16, H: 32, W: 32, O: 32, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['batch 33, 1x1 stride 2 shortcut', convGeom({ N: 33, C: 32, H: 16, W: 16, O: 64, KH: 1, KW: 1, sH: 2, sW: 2 })],
  ['batch 33, grouped (groups 4)', convGeom({ N: 33, C: 32, H: 16, W: 16, O: 32, KH: 3, KW: 3, pH: 1, pW: 1, groups: 4 })],
  ['batch 35, depthwise stride 2', convGeom({ N: 35, C: 32, H: 17, W: 15, O: 32, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1, groups: 32 })],
  ['batch 7, dilated non-square', convGeom({ N: 7, C: 12, H: 23, W: 19, O: 20, KH: 3, KW: 5, dH: 2, dW: 1, pH: 2, pW: 2 })],
  ['batch 65, 64@8²', convGeom({ N: 65, C: 64, H: 8, W: 8, O: 64, KH: 3, KW: 3, pH: 1, pW: 1 })],
];

for (const [path, dnnl] of CONV_PATHS) for (const [label, g] of POOL_CONVS) {
  test(`2 threads (${path}): conv2d / dX / dW == ts, forward and dX bit-identical to 1 thread: ${label}`, { skip }, () => withDnnl(dnnl, () => {
    const rnd = prng(label.length * 17 + g.N);
    const nX = g.N * g.C * g.H * g.W, nW = g.O * (g.C / g.groups) * g.KH * g.KW, nY = g.N * g.O * g.OH * g.OW;
    const x = randF32(nX, rnd), w = randF32(nW, rnd), dy = randF32(nY, rnd);
    const refY = new Float32Array(nY), refDx = new Float32Array(nX), refDw = new Float32Array(nW);
    T.conv2d(x, w, refY, g);
    T.conv2dBackwardInput(dy, w, refDx, g);
    T.conv2dBackwardFilter(x, dy, refDw, g);
    const run = (): [Float32Array, Float32Array, Float32Array] => {
      // garbage first: the kernels must overwrite every element whichever thread owns it
      const y = new Float32Array(nY).fill(NaN), dx = new Float32Array(nX).fill(NaN), dw = new Float32Array(nW).fill(NaN);
      NK('conv2d')(x, w, y, g);
      NK('conv2dBackwardInput')(dy, w, dx, g);
      NK('conv2dBackwardFilter')(x, dy, dw, g);
      return [y, dx, dw];
    };
    const one = withThreads(1, run);
    const [y2, dx2, dw2] = withThreads(2, run);
    const again = withThreads(2, run);
    close(y2, refY, `${label} forward (2 threads)`);
    close(dx2, refDx, `${label} dX (2 threads)`);
    close(dw2, refDw, `${label} dW (2 threads)`);
    close(one[2], refDw, `${label} dW (1 thread)`);
    sameBits(y2, one[0], `${label} forward 2 vs 1 thread(s)`);
    sameBits(dx2, one[1], `${label} dX 2 vs 1 thread(s)`);
    sameBits(again[2], dw2, `${label} dW: two 2-thread runs`);
    // the fast paths ops use go through the same kernels
    withThreads(2, () => {
      sameBits(nativeFastOps.conv2d(x, w, g), y2, `${label} fast conv2d`);
      const [fdx, fdw] = nativeFastOps.conv2dBackward(dy, w, x, true, true, g);
      sameBits(fdx!, dx2, `${label} fast dX`);
      sameBits(fdw!, dw2, `${label} fast dW`);
    });
    assert.ok(refY.some((v) => v !== 0) && refDw.some((v) => v !== 0));
  }));
}

test('2 threads: the pool started, and large matmuls split over it stay == ts and == 1 thread', { skip }, () => {
  const rnd = prng(21);
  const shapes: [number, number, number][] = [[257, 129, 300], [16, 300, 1031], [1031, 77, 20], [64, 64, 64]];
  for (const [M, K, N] of shapes) {
    for (const tA of [false, true]) for (const tB of [false, true]) for (const acc of [false, true]) {
      const a = randF32(M * K, rnd), b = randF32(K * N, rnd), c0 = randF32(M * N, rnd);
      const ref = c0.slice();
      T.matmul(a, b, ref, M, K, N, tA, tB, acc);
      const one = c0.slice(), two = c0.slice();
      withThreads(1, () => NK('matmul')(a, b, one, M, K, N, tA, tB, acc));
      withThreads(2, () => NK('matmul')(a, b, two, M, K, N, tA, tB, acc));
      const what = `matmul ${M}x${K}x${N} tA=${tA} tB=${tB} acc=${acc}`;
      close(two, ref, `${what} (2 threads)`);
      close(one, ref, `${what} (1 thread)`);
    }
  }
  // the conv and matmul cases above ran on more than one thread: the pool's workers, or OpenMP's team in oneDNN builds
  const info = nativeThreadInfo()!;
  assert.ok(info.regions >= 1, 'nothing ran on more than one thread');
  assert.ok(info.openmp || info.workers >= 1, 'no pool worker was started');
});

test('bad arguments throw JS errors instead of crashing', { skip }, async () => {
  type Loose = Record<"sgemm" | "conv2d" | "conv2dBackwardInput" | "conv2dBackwardFilter" | "conv2dBackward" | "channelMoments" | "channelAffine" |
    "channelBackwardSums" | "bnBackwardInput" | "elementwise", (...a: unknown[]) => void>;
  const addon = addonPath() ? (requireHere(addonPath()) as Loose) : null;
  assert.throws(() => addon!.sgemm(new Float64Array(4), new Float32Array(4), new Float32Array(4), 2, 2, 2, false, false, false), /Float32Array/);
  assert.throws(() => addon!.sgemm(new Float32Array(3), new Float32Array(4), new Float32Array(4), 2, 2, 2, false, false, false), /needs 4/);
  assert.throws(() => addon!.conv2d(new Float32Array(4), new Float32Array(4), new Float32Array(4), new Int32Array(3)), /Int32Array of 16/);
  // each convolution checks its three arrays against the sizes of their roles (x / w / y)
  const g1 = new Int32Array([1, 1, 3, 3, 1, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1]);
  assert.throws(() => addon!.conv2d(new Float32Array(9), new Float32Array(9), new Float32Array(0), g1), /out has 0 elements, needs 1/);
  assert.throws(() => addon!.conv2dBackwardInput(new Float32Array(1), new Float32Array(9), new Float32Array(8), g1), /dx has 8 elements, needs 9/);
  // the combined backward: dx / dw may be null, but arrays given are checked against their roles
  const [dy1, w9, x9] = [new Float32Array(1), new Float32Array(9), new Float32Array(9)];
  assert.throws(() => addon!.conv2dBackward(dy1, w9, x9, new Float32Array(8), null, g1), /dx has 8 elements, needs 9/);
  assert.throws(() => addon!.conv2dBackward(dy1, w9, x9, null, new Float32Array(3), g1), /dw has 3 elements, needs 9/);
  assert.throws(() => addon!.conv2dBackward(dy1, w9, null, null, null, g1), /x must be a Float32Array/);
  assert.throws(() => addon!.conv2dBackward(dy1, w9, x9, null, null), /takes \(dy, w, x/);
  addon!.conv2dBackward(dy1, w9, x9, null, null, g1); // nothing wanted: a no-op
  assert.throws(() => addon!.conv2dBackwardFilter(new Float32Array(9), new Float32Array(1), new Float32Array(8), g1), /dw has 8 elements, needs 9/);
  assert.throws(() => addon!.conv2d(new Float32Array(9)), /take \(a, b, out, geometry\)/);
  const f = (n: number): Float32Array => new Float32Array(n);
  assert.throws(() => addon!.channelMoments(f(5), f(2), f(2), 1, 2, 3), /x has 5 elements, needs 6/);
  assert.throws(() => addon!.channelMoments(f(6), f(2), f(1), 1, 2, 3), /variance has 1 elements, needs 2/);
  assert.throws(() => addon!.channelMoments(f(6), f(2), f(2), 1, -2, 3), /C must be a non-negative integer/);
  assert.throws(() => addon!.channelAffine(f(6), f(2), f(2), f(2), new Float64Array(6), 1, 2, 3), /out must be a Float32Array/);
  assert.throws(() => addon!.channelBackwardSums(f(6), f(6), f(2), f(2), f(2), f(2), 1, 2), /channelBackwardSums\(/);
  assert.throws(() => addon!.bnBackwardInput(f(6), f(6), f(2), f(2), f(2), f(2), f(5), 1, 2, 3), /dx has 5 elements, needs 6/);
  assert.throws(() => addon!.elementwise(2, f(4), f(3), f(4)), /b has 3 elements, needs 4/);
  assert.throws(() => addon!.elementwise(7, f(4), f(4), f(4)), /unknown elementwise op/);
});

/** Loss and gradients of a ResNet-20 on a small batch with `backend`, then loss after one SGD step. */
function resnetStep(backend: 'native' | 'wasm'): { loss0: number; loss1: number; grads: Params } {
  const graph = buildModel('resnet20');
  const base = initParams(graph, 7, modelEntry('resnet20').init);
  const params = cloneParams(base);
  const rnd = prng(99);
  const N = 8;
  const x = new Tensor(randF32(N * 3 * 32 * 32, rnd), [N, 3, 32, 32]);
  const y = Int32Array.from({ length: N }, (_, i) => (i * 3) % 10);
  const names = trainableNames(graph);
  return withBackend(backend, () => {
    const lossAndGrad = (): { value: number; grads: Params } => {
      const trainable: Params = {};
      for (const n of names) trainable[n] = params[n];
      const { value, grads } = valueAndGrad((p: Params) =>
        crossEntropy(forward(graph, { ...params, ...p }, x, { training: true }), y))(trainable);
      return { value: value.item(), grads };
    };
    const first = lossAndGrad();
    new Sgd({ momentum: 0.9, weightDecay: 5e-4 }).step(params, first.grads, 0.1);
    const second = lossAndGrad();
    return { loss0: first.value, loss1: second.value, grads: first.grads };
  });
}

/** ‖a − b‖ / ‖b‖ over several tensors at once. */
function relL2(a: Params, b: Params, names: string[]): number {
  let num = 0, den = 0;
  for (const k of names) {
    const x = a[k]!.data, y = b[k]!.data;
    for (let i = 0; i < y.length; i++) { num += (x[i]! - y[i]!) ** 2; den += y[i]! ** 2; }
  }
  return Math.sqrt(num / den);
}

test('ResNet-20 training step: native == wasm (loss before and after an SGD step to 1e-4)', { skip }, () => {
  const n = resnetStep('native');
  const w = resnetStep('wasm');
  assert.ok(Number.isFinite(n.loss0) && n.loss0 > 0.5, `implausible loss ${n.loss0}`);
  assert.ok(Math.abs(n.loss0 - w.loss0) <= 1e-4 * Math.max(1, Math.abs(w.loss0)), `loss ${n.loss0} vs wasm ${w.loss0}`);
  assert.ok(Math.abs(n.loss1 - w.loss1) <= 1e-4 * Math.max(1, Math.abs(w.loss1)), `loss after step ${n.loss1} vs wasm ${w.loss1}`);
  assert.ok(Math.abs(n.loss1 - n.loss0) > 1e-3, 'the SGD step changed nothing');
  const names = Object.keys(w.grads);
  // The classifier's gradient depends on the forward pass only: tight.
  const fc = names.filter((k) => k.startsWith('fc.'));
  assert.ok(fc.length > 0 && relL2(n.grads, w.grads, fc) <= 1e-4, `fc gradient rel err ${relL2(n.grads, w.grads, fc)}`);
  // Deeper gradients: a few ReLU inputs sit within float32 rounding of 0 (|x| ~ 1e-6 at |x|max ~ 5), and
  // a different but equally exact summation order flips them (wasm with 1e-6 noise on conv outputs moves
  // these gradients by ~1e-2 too); a wrong kernel gives O(1).
  const e = relL2(n.grads, w.grads, names);
  assert.ok(e <= 3e-2, `gradient rel L2 err ${e}`);
});

const indexUrl = pathToFileURL(fileURLToPath(new URL('../../src/tensor/backends/index.js', import.meta.url))).href;
const registryUrl = pathToFileURL(fileURLToPath(new URL('../../src/tensor/registry.js', import.meta.url))).href;

function child(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const script = `
    await import(${JSON.stringify(indexUrl)});
    const { getBackend } = await import(${JSON.stringify(registryUrl)});
    console.log(getBackend());
  `;
  // execArgv carries tsx's loader when the tests run from source
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000,
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

test('METAPRUNE_BACKEND=native selects native; without the addon it falls back with a notice', { skip }, () => {
  const on = child({ METAPRUNE_BACKEND: 'native' });
  assert.equal(on.status, 0, on.stderr);
  assert.equal(on.stdout, 'native');
  assert.doesNotMatch(on.stderr, /not available/);
  const off = child({ METAPRUNE_BACKEND: 'native', METAPRUNE_NO_NATIVE: '1' });
  assert.equal(off.status, 0, off.stderr);
  assert.equal(off.stdout, 'wasm');
  assert.match(off.stderr, /backend 'native' is not available here; using wasm/);
  assert.equal(getBackend() === 'native' || getBackend() === 'wasm' || getBackend() === 'ts', true);
});

test('the pool size is per Node thread: a worker thread setting 1 leaves the main thread at 2', { skip }, async () => {
  const { Worker } = await import('node:worker_threads');
  const path = addonPath();
  assert.ok(path, 'addon path not found');
  const prev = getThreads();
  setThreads(2);
  try {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const A = require(${JSON.stringify(path)});
      A.setConvThreads(1);
      const g = Int32Array.of(8, 16, 32, 32, 16, 3, 3, 32, 32, 1, 1, 1, 1, 1, 1, 1);
      const y = new Float32Array(8 * 16 * 1024);
      A.conv2d(new Float32Array(8 * 16 * 1024).fill(1), new Float32Array(16 * 16 * 9).fill(1), y, g);
      parentPort.postMessage({ threads: A.getConvThreads(), y: y[33] });
    `;
    const w = new Worker(code, { eval: true });
    const msg = await new Promise<{ threads: number; y: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.deepEqual(msg, { threads: 1, y: 16 * 9 });
    assert.equal(nativeThreadInfo()!.threads, 2);
  } finally {
    setThreads(prev);
  }
});

test('the main thread and a worker thread using the pool at the same time both get exact results', { skip }, async () => {
  const { Worker } = await import('node:worker_threads');
  const path = addonPath();
  // the worker computes a reference alone, says so, then repeats it while the main thread does the same
  const code = `
    const { parentPort } = require('node:worker_threads');
    const A = require(${JSON.stringify(path)});
    A.setConvThreads(2);
    const g = Int32Array.of(16, 16, 32, 32, 16, 3, 3, 32, 32, 1, 1, 1, 1, 1, 1, 1);
    const x = new Float32Array(16 * 16 * 1024).map((_, i) => Math.sin(i)), w = new Float32Array(16 * 16 * 9).map((_, i) => Math.cos(i));
    const run = () => { const y = new Float32Array(16 * 16 * 1024), dw = new Float32Array(w.length);
      A.conv2d(x, w, y, g); A.conv2dBackwardFilter(x, y, dw, g); return [y, dw]; };
    const [y0, dw0] = run();
    parentPort.postMessage('ready');
    let bad = 0;
    for (let r = 0; r < 40; r++) {
      const [y, dw] = run();
      for (let i = 0; i < y.length; i++) if (y[i] !== y0[i]) { bad++; break; }
      for (let i = 0; i < dw.length; i++) if (dw[i] !== dw0[i]) { bad++; break; }
    }
    parentPort.postMessage({ bad });
  `;
  const prev = getThreads();
  setThreads(2);
  try {
    const w = new Worker(code, { eval: true });
    const msgs: unknown[] = [];
    let wake: () => void = () => {};
    w.on('message', (m) => { msgs.push(m); wake(); });
    const next = async (): Promise<unknown> => {
      while (msgs.length === 0) await new Promise<void>((r) => { wake = r; });
      return msgs.shift();
    };
    assert.equal(await next(), 'ready');
    const rnd = prng(77);
    const g = convGeom({ N: 16, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 });
    const x = randF32(16 * 16 * 1024, rnd), wt = randF32(16 * 16 * 9, rnd);
    const run = (): [Float32Array, Float32Array] => {
      const y = new Float32Array(x.length), dw = new Float32Array(wt.length);
      NK('conv2d')(x, wt, y, g);
      NK('conv2dBackwardFilter')(x, y, dw, g);
      return [y, dw];
    };
    const [y0, dw0] = run();
    for (let r = 0; r < 40; r++) {
      const [y, dw] = run();
      sameBits(y, y0, `main forward, round ${r}`);
      sameBits(dw, dw0, `main dW, round ${r}`);
    }
    assert.deepEqual(await next(), { bad: 0 });
    await w.terminate();
  } finally {
    setThreads(prev);
  }
});

test('a child process that ran 2-thread convolutions on the pool exits on its own', { skip }, () => {
  const nativeUrl = pathToFileURL(fileURLToPath(new URL('../../src/tensor/backends/native/index.js', import.meta.url))).href;
  // no process.exit: Node must find nothing keeping it alive once the script ends
  const script = `
    const b = await import(${JSON.stringify(indexUrl)});
    const n = await import(${JSON.stringify(nativeUrl)});
    b.setThreads(2);
    const g = { N: 8, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, OH: 32, OW: 32, strideH: 1, strideW: 1,
      padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1 };
    const x = new Float32Array(8 * 16 * 32 * 32).fill(0.5), w = new Float32Array(16 * 16 * 9).fill(0.25);
    const y = new Float32Array(x.length), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
    for (let i = 0; i < 3; i++) {
      n.nativeKernels.conv2d(x, w, y, g);
      n.nativeKernels.conv2dBackwardInput(y, w, dx, g);
      n.nativeKernels.conv2dBackwardFilter(x, y, dw, g);
    }
    const info = n.nativeThreadInfo();
    console.log(JSON.stringify({ workers: info.openmp ? info.regions : info.workers, y: y[33 * 32 + 5] }));
  `;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
    env: { ...process.env, METAPRUNE_BACKEND: 'native' }, encoding: 'utf8', timeout: 60000,
  });
  assert.equal(r.signal, null, `child killed (${r.signal}) after ${Date.now() - t0} ms: it did not exit on its own`);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { workers: number; y: number };
  assert.ok(out.workers >= 1, 'the child never ran on a second thread');
  assert.equal(out.y, 16 * 9 * 0.5 * 0.25);
});
