/**
 * Multi-threaded wasm kernels: every kernel (and every fast path ops use) run with 1 and 2 threads
 * against the `ts` reference within 1e-5 norm-relative error, on random shapes including odd sizes
 * and shapes large enough to be split across threads. Results must not depend on the thread count
 * (bit-identical), worker threads must really take part, and they must neither keep the process
 * alive nor ignore METAPRUNE_THREADS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { prng, randF32, sameBits, convGeom, close } from './kernel-helpers.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsKernels as T } from '../../src/tensor/backends/ts/kernels.js';
import {
  getThreads, setThreads, wasmAvailable, wasmFastOps as F, wasmKernels, wasmThreadStats, wasmThreadsReady,
} from '../../src/tensor/backends/wasm/index.js';
import type { ConvGeom, KernelMap, PoolGeom } from '../../src/tensor/kernels.js';


function K<N extends keyof KernelMap>(name: N): KernelMap[N] {
  const k = wasmKernels[name];
  assert.ok(k, `wasm kernel ${name} missing`);
  return k as KernelMap[N];
}

/** Runs fn with 1 and with 2 threads; returns both results. */
function both<R>(fn: () => R): [R, R] {
  setThreads(1);
  const one = fn();
  setThreads(2);
  const two = fn();
  return [one, two];
}

function poolGeom(N: number, C: number, H: number, W: number, k: number, s: number, p: number): PoolGeom {
  const size = (L: number): number => Math.floor((L + 2 * p - k) / s) + 1;
  return { N, C, H, W, OH: size(H), OW: size(W), KH: k, KW: k, strideH: s, strideW: s, padH: p, padW: p };
}

let prevThreads = 1;

before(async () => {
  assert.equal(wasmAvailable(), true);
  prevThreads = getThreads();
  setThreads(2);
  assert.equal(await wasmThreadsReady(30000), true, 'the worker thread did not start');
});

after(() => {
  setThreads(prevThreads);
});

test('matmul: 1 and 2 threads == ts, odd shapes, row and column splits, trans, accumulate', () => {
  const rnd = prng(101);
  const shapes: [number, number, number][] = [
    [1, 1, 1], [17, 33, 7], [67, 129, 131], [300, 50, 7], [5, 600, 333], [130, 257, 65], [513, 31, 9], [64, 64, 640], [33, 520, 41],
  ];
  for (const [M, Kd, N] of shapes)
    for (const tA of [false, true])
      for (const tB of [false, true])
        for (const acc of [false, true]) {
          const a = randF32(M * Kd, rnd), b = randF32(Kd * N, rnd), c0 = randF32(M * N, rnd);
          const want = c0.slice();
          T.matmul(a, b, want, M, Kd, N, tA, tB, acc);
          const [g1, g2] = both(() => {
            const got = c0.slice();
            K('matmul')(a, b, got, M, Kd, N, tA, tB, acc);
            return got;
          });
          const label = `matmul ${M}x${Kd}x${N} tA=${tA} tB=${tB} acc=${acc}`;
          close(g1, want, `${label} (1 thread)`);
          close(g2, want, `${label} (2 threads)`);
          sameBits(g1, g2, label);
        }
});

const CONV_CASES: [string, ConvGeom][] = [
  ['3x3 p1 odd', convGeom({ N: 5, C: 3, H: 13, W: 11, O: 7, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['resnet 16ch 32x32', convGeom({ N: 4, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['3x3 s2 p1 odd', convGeom({ N: 6, C: 5, H: 15, W: 14, O: 9, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['3x3 s2 to 4x4 (smallcnn conv4)', convGeom({ N: 9, C: 32, H: 7, W: 7, O: 64, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['7x7 out (smallcnn conv3)', convGeom({ N: 7, C: 32, H: 7, W: 7, O: 32, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['4x4 out (smallcnn conv5)', convGeom({ N: 11, C: 64, H: 4, W: 4, O: 64, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['single input channel', convGeom({ N: 8, C: 1, H: 14, W: 14, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['dilation 2', convGeom({ N: 4, C: 6, H: 13, W: 12, O: 5, KH: 3, KW: 3, pH: 2, pW: 2, dH: 2, dW: 2 })],
  ['groups 2', convGeom({ N: 4, C: 10, H: 11, W: 9, O: 14, KH: 3, KW: 3, pH: 1, pW: 1, groups: 2 })],
  ['depthwise s2', convGeom({ N: 5, C: 12, H: 17, W: 15, O: 12, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1, groups: 12 })],
  ['depthwise multiplier 2', convGeom({ N: 3, C: 7, H: 12, W: 13, O: 14, KH: 5, KW: 5, pH: 2, pW: 2, groups: 7 })],
  ['1x1', convGeom({ N: 5, C: 19, H: 9, W: 11, O: 13, KH: 1, KW: 1 })],
  ['1x1 s2 (downsample)', convGeom({ N: 6, C: 16, H: 16, W: 16, O: 32, KH: 1, KW: 1, sH: 2, sW: 2 })],
  ['2x3 mixed strides', convGeom({ N: 4, C: 3, H: 19, W: 23, O: 5, KH: 2, KW: 3, sH: 2, sW: 3, pH: 0, pW: 2, dH: 2, dW: 1 })],
  ['5x5 p2 asym input', convGeom({ N: 3, C: 6, H: 9, W: 21, O: 11, KH: 5, KW: 5, pH: 2, pW: 2 })],
  ['stride (2,1) dilation (2,3)', convGeom({ N: 4, C: 3, H: 12, W: 19, O: 6, KH: 3, KW: 2, sH: 2, sW: 1, pH: 1, pW: 0, dH: 2, dW: 3 })],
  ['stride 3, 4x4 kernel', convGeom({ N: 4, C: 3, H: 17, W: 20, O: 4, KH: 4, KW: 4, sH: 3, sW: 3, pH: 1, pW: 2 })],
  ['CK > KC block, N=1', convGeom({ N: 1, C: 33, H: 9, W: 9, O: 17, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['odd batch, O > MC', convGeom({ N: 3, C: 4, H: 10, W: 10, O: 131, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['Winograd filter gradient, odd images stacked per block', convGeom({ N: 21, C: 12, H: 5, W: 7, O: 9, KH: 3, KW: 3, pH: 1, pW: 1 })],
  // large enough for the fast paths to run in pipelined parts (copies overlapping the computation)
  ['pipelined 16ch 32x32', convGeom({ N: 33, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['pipelined s2 (col2im input gradient)', convGeom({ N: 37, C: 16, H: 32, W: 32, O: 32, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['pipelined depthwise', convGeom({ N: 29, C: 24, H: 24, W: 24, O: 24, KH: 3, KW: 3, pH: 1, pW: 1, groups: 24 })],
  ['pipelined 1x1', convGeom({ N: 31, C: 32, H: 16, W: 16, O: 24, KH: 1, KW: 1 })],
];

test('conv2d / backward input / backward filter: 1 and 2 threads == ts, bit-identical across thread counts', () => {
  const rnd = prng(202);
  for (const [label, g] of CONV_CASES) {
    const x = randF32(g.N * g.C * g.H * g.W, rnd);
    const w = randF32(g.O * (g.C / g.groups) * g.KH * g.KW, rnd);
    const dy = randF32(g.N * g.O * g.OH * g.OW, rnd);
    const y0 = new Float32Array(dy.length), dx0 = new Float32Array(x.length), dw0 = new Float32Array(w.length);
    T.conv2d(x, w, y0, g);
    T.conv2dBackwardInput(dy, w, dx0, g);
    T.conv2dBackwardFilter(x, dy, dw0, g);
    const [r1, r2] = both(() => {
      const y = new Float32Array(dy.length).fill(7), dx = new Float32Array(x.length).fill(7), dw = new Float32Array(w.length).fill(7);
      K('conv2d')(x, w, y, g);
      K('conv2dBackwardInput')(dy, w, dx, g);
      K('conv2dBackwardFilter')(x, dy, dw, g);
      // returning fast paths: forward, and the fused backward (one copy of dy), both gradients or either one
      const fy = F.conv2d(x, w, g);
      const [fdx, fdw] = F.conv2dBackward(dy, w, x, true, true, g);
      const [odx, none1] = F.conv2dBackward(dy, w, x, true, false, g);
      const [none2, odw] = F.conv2dBackward(dy, w, x, false, true, g);
      assert.equal(none1, null);
      assert.equal(none2, null);
      return { y, dx, dw, fy, fdx: fdx!, fdw: fdw!, odx: odx!, odw: odw! };
    });
    for (const [r, t] of [[r1, '1 thread'], [r2, '2 threads']] as const) {
      close(r.y, y0, `conv2d ${label} (${t})`);
      close(r.dx, dx0, `conv2dBackwardInput ${label} (${t})`);
      close(r.dw, dw0, `conv2dBackwardFilter ${label} (${t})`);
      for (const [a, b, what] of [[r.fy, r.y, 'forward'], [r.fdx, r.dx, 'dx'], [r.odx, r.dx, 'dx only'], [r.fdw, r.dw, 'dw'], [r.odw, r.dw, 'dw only']] as const) {
        sameBits(a, b, `conv fast path ${what} ${label} (${t})`);
      }
    }
    sameBits(r1.y, r2.y, `conv2d ${label}`);
    sameBits(r1.dx, r2.dx, `conv2dBackwardInput ${label}`);
    sameBits(r1.dw, r2.dw, `conv2dBackwardFilter ${label}`);
  }
});

test('pooling (+backward): 1 and 2 threads == ts', () => {
  const rnd = prng(303);
  for (const g of [poolGeom(8, 16, 20, 20, 2, 2, 0), poolGeom(3, 37, 17, 15, 3, 2, 1), poolGeom(5, 9, 33, 31, 3, 1, 1), poolGeom(2, 2, 8, 8, 2, 2, 0)]) {
    const label = JSON.stringify(g);
    const nx = g.N * g.C * g.H * g.W, no = g.N * g.C * g.OH * g.OW;
    const x = randF32(nx, rnd), dy = randF32(no, rnd);
    const o0 = new Float32Array(no), a0 = new Int32Array(no), dm0 = new Float32Array(nx), av0 = new Float32Array(no), da0 = new Float32Array(nx);
    T.maxPool2d(x, o0, a0, g);
    T.maxPool2dBackward(dy, a0, dm0, g);
    T.avgPool2d(x, av0, g);
    T.avgPool2dBackward(dy, da0, g);
    const [r1, r2] = both(() => {
      const o = new Float32Array(no), a = new Int32Array(no), dm = new Float32Array(nx).fill(3), av = new Float32Array(no), da = new Float32Array(nx).fill(3);
      K('maxPool2d')(x, o, a, g);
      K('maxPool2dBackward')(dy, a, dm, g);
      K('avgPool2d')(x, av, g);
      K('avgPool2dBackward')(dy, da, g);
      return { o, a, dm, av, da };
    });
    for (const [r, t] of [[r1, '1 thread'], [r2, '2 threads']] as const) {
      close(r.o, o0, `maxPool2d ${label} (${t})`);
      assert.deepEqual([...r.a], [...a0], `argmax ${label} (${t})`);
      close(r.dm, dm0, `maxPool2dBackward ${label} (${t})`);
      close(r.av, av0, `avgPool2d ${label} (${t})`);
      close(r.da, da0, `avgPool2dBackward ${label} (${t})`);
    }
    sameBits(r1.dm, r2.dm, `maxPool2dBackward ${label}`);
    sameBits(r1.da, r2.da, `avgPool2dBackward ${label}`);
  }
});

test('channel kernels and fused batch-norm paths: 1 and 2 threads == ts', () => {
  const rnd = prng(404);
  for (const [N, C, HW] of [[1, 1, 1], [3, 7, 17], [8, 16, 1023], [64, 16, 64], [5, 33, 49], [128, 64, 16]] as [number, number, number][]) {
    const label = `N=${N} C=${C} HW=${HW}`;
    const n = N * C * HW;
    const x = randF32(n, rnd, 2, 3), dy = randF32(n, rnd);
    const m0 = new Float32Array(C), v0 = new Float32Array(C);
    T.channelMoments(x, m0, v0, N, C, HW);
    const scale = randF32(C, rnd), shift = randF32(C, rnd), invstd = new Float32Array(C);
    for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(v0[c]! + 1e-5);
    const y0 = new Float32Array(n), s0 = new Float32Array(C), t0 = new Float32Array(C);
    T.channelAffine(x, m0, scale, shift, y0, N, C, HW);
    T.channelBackwardSums(dy, x, m0, invstd, s0, t0, N, C, HW);
    // fused batch-norm input gradient: (x - mean)·k2 + k3 + k1·dy
    const k1 = randF32(C, rnd), k2 = randF32(C, rnd), k3 = randF32(C, rnd);
    const dx0 = new Float32Array(n);
    T.channelAffine(x, m0, k2, k3, dx0, N, C, HW);
    for (let i = 0; i < n; i++) dx0[i] = dx0[i]! + k1[Math.floor(i / HW) % C]! * dy[i]!;
    const [r1, r2] = both(() => {
      const m = new Float32Array(C), v = new Float32Array(C), y = new Float32Array(n), s = new Float32Array(C), t = new Float32Array(C);
      K('channelMoments')(x, m, v, N, C, HW);
      K('channelAffine')(x, m0, scale, shift, y, N, C, HW);
      K('channelBackwardSums')(dy, x, m0, invstd, s, t, N, C, HW);
      const fm = new Float32Array(C), fv = new Float32Array(C);
      let coefCalls = 0;
      const fy = F.batchNormForward(x, fm, fv, N, C, HW, () => {
        coefCalls++;
        close(fm, m0, `fused mean ${label}`);
        close(fv, v0, `fused variance ${label}`);
        return [scale, shift];
      });
      const fs = new Float32Array(C), ft = new Float32Array(C);
      const fdx = F.batchNormBackward(dy, x, m0, invstd, fs, ft, N, C, HW, true, () => {
        coefCalls++;
        return [k1, k2, k3];
      })!;
      const gs = new Float32Array(C), gt = new Float32Array(C);
      const noDx = F.batchNormBackward(dy, x, m0, invstd, gs, gt, N, C, HW, false, () => {
        throw new Error('coefs must not be requested without dx');
      });
      assert.equal(noDx, null);
      assert.equal(coefCalls, 2);
      return { m, v, y, s, t, fy, fs, ft, fdx, gs, gt };
    });
    for (const [r, th] of [[r1, '1 thread'], [r2, '2 threads']] as const) {
      close(r.m, m0, `mean ${label} (${th})`);
      close(r.v, v0, `variance ${label} (${th})`);
      close(r.y, y0, `affine ${label} (${th})`);
      close(r.s, s0, `sumDy ${label} (${th})`);
      close(r.t, t0, `sumDyXhat ${label} (${th})`);
      close(r.fy, y0, `fused forward ${label} (${th})`);
      close(r.fs, s0, `fused sumDy ${label} (${th})`);
      close(r.ft, t0, `fused sumDyXhat ${label} (${th})`);
      close(r.gs, s0, `sums only ${label} (${th})`);
      close(r.gt, t0, `sums only ${label} (${th})`);
      close(r.fdx, dx0, `fused dx ${label} (${th})`);
    }
    sameBits(r1.v, r2.v, `variance ${label}`);
    sameBits(r1.t, r2.t, `sumDyXhat ${label}`);
    sameBits(r1.fdx, r2.fdx, `fused dx ${label}`);
  }
});

test('elementwise fast paths (relu, relu backward, add): 1 and 2 threads, exact', () => {
  const rnd = prng(505);
  for (const n of [1, 3, 4097, 65536 + 13, 1 << 20]) {
    const x = randF32(n, rnd), g = randF32(n, rnd), b = randF32(n, rnd);
    if (n > 8) {
      x[0] = NaN; x[1] = -0; x[2] = Infinity; x[3] = -Infinity; x[4] = 1e-40; x[5] = -1e-40;
      g[7] = NaN;
    }
    const relu0 = x.map((v) => (v > 0 ? v : 0));
    const back0 = g.map((v, i) => (relu0[i]! > 0 ? v : 0));
    const add0 = x.map((v, i) => v + b[i]!);
    const [r1, r2] = both(() => {
      const relu = F.relu(x);
      const back = F.reluBackward(relu, g);
      const sum = F.add(x, b);
      assert.ok(!(relu.buffer instanceof SharedArrayBuffer), 'results must not live in shared wasm memory');
      return { relu, back, sum };
    });
    for (const r of [r1, r2]) {
      sameBits(r.relu, relu0, `relu n=${n}`);
      sameBits(r.back, back0, `relu backward n=${n}`);
      sameBits(r.sum, add0, `add n=${n}`);
    }
  }
});

test('worker threads take part in the work', async () => {
  setThreads(2);
  const before = wasmThreadStats().workerChunks;
  const n = 384, a = new Float32Array(n * n).fill(1), b = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
  const t0 = Date.now();
  // Under heavy load a worker may be descheduled for a while; chunks are claimed dynamically, so
  // keep calling (yielding in between) until it has done some work.
  while (wasmThreadStats().workerChunks === before && Date.now() - t0 < 60000) {
    K('matmul')(a, b, c, n, n, n, false, false, false);
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(wasmThreadStats().workerChunks > before, 'no chunk ran on a worker thread');
  assert.equal(c[0], n);
  const s = wasmThreadStats();
  assert.equal(s.threads, 2);
  assert.ok(s.started >= 1 && s.ready >= 1);
});

test('setThreads validates its argument', () => {
  assert.throws(() => setThreads(0), /positive integer/);
  assert.throws(() => setThreads(1.5), /positive integer/);
  setThreads(2);
  assert.equal(getThreads(), 2);
});

const wasmIndexUrl = pathToFileURL(fileURLToPath(new URL('../../src/tensor/backends/wasm/index.js', import.meta.url))).href;

function runChild(script: string, env: Record<string, string | undefined>, nodeFlags: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('METAPRUNE_THREADS sets the thread count; workers never keep the process alive', () => {
  const script = `
    import { wasmKernels, getThreads, wasmThreadStats, wasmThreadsReady } from ${JSON.stringify(wasmIndexUrl)};
    const n = 200, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
    await wasmThreadsReady(20000);
    wasmKernels.matmul(a, a, c, n, n, n, false, false, false);
    console.log(JSON.stringify({ threads: getThreads(), started: wasmThreadStats().started, c0: c[0] }));
  `;
  const one = runChild(script, { METAPRUNE_THREADS: '1' });
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout), { threads: 1, started: 0, c0: 200 });
  const three = runChild(script, { METAPRUNE_THREADS: '3' });
  // exit status 0: the child exited on its own although its workers were started and idle (one kept
  // alive by them is killed by runChild's timeout and has no status)
  assert.equal(three.status, 0, three.stderr);
  assert.deepEqual(JSON.parse(three.stdout), { threads: 3, started: 2, c0: 200 });
  const bad = runChild(script, { METAPRUNE_THREADS: 'lots' });
  assert.equal(bad.status, 0, bad.stderr);
  assert.match(bad.stderr, /METAPRUNE_THREADS='lots' is not a positive integer/);
  assert.ok(JSON.parse(bad.stdout).threads >= 1);
});

test('joins wait for every chunk under V8\'s baseline compiler (--liftoff-only)', () => {
  // Liftoff (Node 20) lost values live across an inlined memory.atomic.wait32, so a join could end
  // while a worker was still writing its chunk (outputs read half-written: zeros in the last
  // images). This ran wrong in about half of such children before the wait moved behind a call.
  const script = `
    import { wasmKernels as K, setThreads, wasmThreadsReady, wasmThreadStats } from ${JSON.stringify(wasmIndexUrl)};
    const g = { N: 33, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, OH: 32, OW: 32, strideH: 1, strideW: 1,
      padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1 };
    let s = 7; const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5);
    const x = Float32Array.from({ length: g.N * g.C * g.H * g.W }, rnd), w = Float32Array.from({ length: g.O * g.C * 9 }, rnd);
    const ref = new Float32Array(g.N * g.O * g.OH * g.OW);
    setThreads(1);
    K.conv2d(x, w, ref, g);
    setThreads(2);
    await wasmThreadsReady(20000);
    let bad = 0;
    for (let it = 0; it < 60; it++) {
      const y = new Float32Array(ref.length).fill(7);
      K.conv2d(x, w, y, g);
      for (let i = 0; i < y.length; i++) if (y[i] !== ref[i]) { bad++; break; }
    }
    console.log(JSON.stringify({ bad, workerChunks: wasmThreadStats().workerChunks }));
  `;
  const r = runChild(script, {}, ['--liftoff-only']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { bad: number; workerChunks: number };
  assert.ok(out.workerChunks > 0, 'the worker thread ran no chunk');
  assert.equal(out.bad, 0, `${out.bad} of 60 threaded conv2d calls differed from the single-threaded result`);
});
