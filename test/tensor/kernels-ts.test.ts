/**
 * The reference `ts` kernels against naive direct-loop definitions written here (float64 math),
 * for Float64Array (tight tolerance) and Float32Array (float32 tolerance).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng, convGeom, close, randArray } from './kernel-helpers.js';
import { tsKernels as K } from '../../src/tensor/backends/ts/kernels.js';
import type { Buf, ConvGeom, PoolGeom } from '../../src/tensor/kernels.js';

type Ctor = new (n: number) => Float32Array | Float64Array;
const TYPES: [string, Ctor, number][] = [
  ['f64', Float64Array, 1e-12],
  ['f32', Float32Array, 2e-5],
];

// ------------------------------------------------------------------ naive definitions

function naiveMatmul(a: Buf, b: Buf, c0: Buf | null, M: number, Kd: number, N: number, tA: boolean, tB: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = c0 ? c0[i * N + j]! : 0;
      for (let k = 0; k < Kd; k++) {
        const av = tA ? a[k * M + i]! : a[i * Kd + k]!;
        const bv = tB ? b[j * Kd + k]! : b[k * N + j]!;
        s += av * bv;
      }
      out.push(s);
    }
  }
  return out;
}

/** Calls f(n, o, oh, ow, c, kh, kw, xIndex | -1, wIndex, outIndex) for every term of the convolution sum. */
function convTerms(g: ConvGeom, f: (xi: number, wi: number, oi: number) => void): void {
  const Cg = g.C / g.groups, Og = g.O / g.groups;
  for (let n = 0; n < g.N; n++)
    for (let o = 0; o < g.O; o++) {
      const grp = Math.floor(o / Og);
      for (let oh = 0; oh < g.OH; oh++)
        for (let ow = 0; ow < g.OW; ow++)
          for (let ci = 0; ci < Cg; ci++)
            for (let kh = 0; kh < g.KH; kh++)
              for (let kw = 0; kw < g.KW; kw++) {
                const ih = oh * g.strideH - g.padH + kh * g.dilationH;
                const iw = ow * g.strideW - g.padW + kw * g.dilationW;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const c = grp * Cg + ci;
                const xi = ((n * g.C + c) * g.H + ih) * g.W + iw;
                const wi = ((o * Cg + ci) * g.KH + kh) * g.KW + kw;
                const oi = ((n * g.O + o) * g.OH + oh) * g.OW + ow;
                f(xi, wi, oi);
              }
    }
}

function naiveConv(x: Buf, w: Buf, g: ConvGeom): Float64Array {
  const out = new Float64Array(g.N * g.O * g.OH * g.OW);
  convTerms(g, (xi, wi, oi) => { out[oi] += x[xi]! * w[wi]!; });
  return out;
}
function naiveConvDx(dy: Buf, w: Buf, g: ConvGeom): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  convTerms(g, (xi, wi, oi) => { dx[xi] += dy[oi]! * w[wi]!; });
  return dx;
}
function naiveConvDw(x: Buf, dy: Buf, g: ConvGeom): Float64Array {
  const dw = new Float64Array(g.O * (g.C / g.groups) * g.KH * g.KW);
  convTerms(g, (xi, wi, oi) => { dw[wi] += dy[oi]! * x[xi]!; });
  return dw;
}

function poolGeom(p: { N: number; C: number; H: number; W: number; KH: number; KW: number; sH: number; sW: number; pH: number; pW: number; ceil?: boolean }): PoolGeom {
  const size = (L: number, k: number, s: number, pd: number): number => {
    let o = (p.ceil ? Math.ceil((L + 2 * pd - k) / s) : Math.floor((L + 2 * pd - k) / s)) + 1;
    // PyTorch: the last window must start inside the input or left padding
    if (p.ceil && (o - 1) * s >= L + pd) o--;
    return o;
  };
  return {
    N: p.N, C: p.C, H: p.H, W: p.W, KH: p.KH, KW: p.KW, strideH: p.sH, strideW: p.sW, padH: p.pH, padW: p.pW,
    OH: size(p.H, p.KH, p.sH, p.pH), OW: size(p.W, p.KW, p.sW, p.pW),
  };
}

/** Naive pooling: visits every window position (including padding) explicitly. */
function naivePool(x: Buf, g: PoolGeom): { max: number[]; arg: number[]; avg: number[] } {
  const max: number[] = [], arg: number[] = [], avg: number[] = [];
  for (let p = 0; p < g.N * g.C; p++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) {
        let best = -Infinity, bi = -1, s = 0, cnt = 0;
        for (let kh = 0; kh < g.KH; kh++)
          for (let kw = 0; kw < g.KW; kw++) {
            const ih = oh * g.strideH - g.padH + kh, iw = ow * g.strideW - g.padW + kw;
            // positions inside input+padding count for the average's divisor
            if (ih < g.H + g.padH && iw < g.W + g.padW) cnt++;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            const v = x[p * g.H * g.W + ih * g.W + iw]!;
            s += v;
            if (v > best) { best = v; bi = ih * g.W + iw; }
          }
        max.push(best); arg.push(bi); avg.push(s / cnt);
      }
  return { max, arg, avg };
}

// ------------------------------------------------------------------ tests

test('matmul: all trans combos, accumulate, odd sizes', () => {
  const rnd = prng(1);
  const shapes: [number, number, number][] = [[1, 1, 1], [17, 33, 7], [5, 1, 9], [64, 48, 31], [3, 300, 2], [9, 130, 260]];
  for (const [name, T, tol] of TYPES)
    for (const [M, Kd, N] of shapes)
      for (const tA of [false, true])
        for (const tB of [false, true])
          for (const acc of [false, true]) {
            const a = randArray(T, M * Kd, rnd), b = randArray(T, Kd * N, rnd), c = randArray(T, M * N, rnd);
            const want = naiveMatmul(a, b, acc ? c : null, M, Kd, N, tA, tB);
            K.matmul(a, b, c, M, Kd, N, tA, tB, acc);
            close(c, want, `${name} matmul ${M}x${Kd}x${N} tA=${tA} tB=${tB} acc=${acc}`, tol * Math.sqrt(Kd));
          }
});

test('matmul: K=0 zeroes or keeps C', () => {
  const c = new Float64Array([1, 2, 3, 4]);
  K.matmul(new Float64Array(0), new Float64Array(0), c, 2, 0, 2, false, false, true);
  assert.deepEqual([...c], [1, 2, 3, 4]);
  K.matmul(new Float64Array(0), new Float64Array(0), c, 2, 0, 2, false, false, false);
  assert.deepEqual([...c], [0, 0, 0, 0]);
});

const CONV_CASES: [string, ConvGeom][] = [
  ['3x3 pad1', convGeom({ N: 2, C: 3, H: 7, W: 6, O: 4, KH: 3, KW: 3, pH: 1, pW: 1 })],
  ['3x3 stride2 pad1', convGeom({ N: 2, C: 3, H: 9, W: 8, O: 5, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 })],
  ['3x3 dilation2 pad2', convGeom({ N: 1, C: 2, H: 8, W: 9, O: 3, KH: 3, KW: 3, pH: 2, pW: 2, dH: 2, dW: 2 })],
  ['groups2', convGeom({ N: 2, C: 4, H: 6, W: 5, O: 6, KH: 3, KW: 3, pH: 1, pW: 1, groups: 2 })],
  ['depthwise s2', convGeom({ N: 2, C: 5, H: 9, W: 7, O: 5, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1, groups: 5 })],
  ['depthwise x2 multiplier', convGeom({ N: 1, C: 3, H: 6, W: 6, O: 6, KH: 3, KW: 3, pH: 1, pW: 1, groups: 3 })],
  ['depthwise dilation2 s(1,2)', convGeom({ N: 2, C: 4, H: 9, W: 10, O: 4, KH: 3, KW: 3, sH: 1, sW: 2, pH: 2, pW: 1, dH: 2, dW: 2, groups: 4 })],
  ['1x1', convGeom({ N: 2, C: 7, H: 5, W: 4, O: 3, KH: 1, KW: 1 })],
  ['1x1 stride2', convGeom({ N: 2, C: 3, H: 7, W: 6, O: 4, KH: 1, KW: 1, sH: 2, sW: 2 })],
  ['1x1 pad1 groups2', convGeom({ N: 1, C: 4, H: 3, W: 5, O: 2, KH: 1, KW: 1, pH: 1, pW: 1, groups: 2 })],
  ['2x3 mixed', convGeom({ N: 2, C: 2, H: 8, W: 9, O: 3, KH: 2, KW: 3, sH: 2, sW: 1, pH: 0, pW: 1, dH: 1, dW: 2 })],
  ['5x5 s3 p2', convGeom({ N: 1, C: 3, H: 11, W: 10, O: 2, KH: 5, KW: 5, sH: 3, sW: 3, pH: 2, pW: 2 })],
  ['kernel larger than input', convGeom({ N: 1, C: 2, H: 2, W: 3, O: 2, KH: 3, KW: 3, pH: 1, pW: 1, dH: 2, dW: 1 })],
];

test('conv2d forward / backward input / backward filter vs direct loops', () => {
  const rnd = prng(2);
  for (const [name, T, tol] of TYPES)
    for (const [label, g] of CONV_CASES) {
      const Cg = g.C / g.groups;
      const x = randArray(T, g.N * g.C * g.H * g.W, rnd);
      const w = randArray(T, g.O * Cg * g.KH * g.KW, rnd);
      const dy = randArray(T, g.N * g.O * g.OH * g.OW, rnd);
      const out = new T(dy.length).fill(7);
      K.conv2d(x, w, out, g);
      close(out, naiveConv(x, w, g), `${name} conv2d ${label}`, tol * 4);
      const dx = new T(x.length).fill(7);
      K.conv2dBackwardInput(dy, w, dx, g);
      close(dx, naiveConvDx(dy, w, g), `${name} conv2dBackwardInput ${label}`, tol * 4);
      const dw = new T(w.length).fill(7);
      K.conv2dBackwardFilter(x, dy, dw, g);
      close(dw, naiveConvDw(x, dy, g), `${name} conv2dBackwardFilter ${label}`, tol * 8);
    }
});

const POOL_CASES: PoolGeom[] = [
  poolGeom({ N: 2, C: 3, H: 8, W: 8, KH: 2, KW: 2, sH: 2, sW: 2, pH: 0, pW: 0 }),
  poolGeom({ N: 1, C: 2, H: 7, W: 9, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 }),
  poolGeom({ N: 2, C: 1, H: 5, W: 6, KH: 3, KW: 2, sH: 1, sW: 2, pH: 1, pW: 1 }),
  poolGeom({ N: 1, C: 3, H: 7, W: 7, KH: 2, KW: 2, sH: 2, sW: 2, pH: 0, pW: 0, ceil: true }),
  poolGeom({ N: 1, C: 2, H: 6, W: 5, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1, ceil: true }),
  poolGeom({ N: 2, C: 2, H: 4, W: 4, KH: 4, KW: 4, sH: 1, sW: 1, pH: 0, pW: 0 }),
];

test('maxPool2d / avgPool2d (+backward) vs direct loops, with padding and ceil mode', () => {
  const rnd = prng(3);
  for (const [name, T, tol] of TYPES)
    for (const g of POOL_CASES) {
      const label = `${name} pool ${JSON.stringify(g)}`;
      const x = randArray(T, g.N * g.C * g.H * g.W, rnd);
      const want = naivePool(x, g);
      const nOut = g.N * g.C * g.OH * g.OW;
      const out = new T(nOut), arg = new Int32Array(nOut);
      K.maxPool2d(x, out, arg, g);
      close(out, want.max, `max ${label}`, 0);
      assert.deepEqual([...arg], want.arg, `argmax ${label}`);
      const avg = new T(nOut);
      K.avgPool2d(x, avg, g);
      close(avg, want.avg, `avg ${label}`, tol);

      // backward: adjoint of the forward map, checked with direct scatter loops
      const dy = randArray(T, nOut, rnd);
      const HW = g.H * g.W, OHW = g.OH * g.OW;
      const dxMax = new Float64Array(x.length);
      for (let p = 0; p < g.N * g.C; p++)
        for (let i = 0; i < OHW; i++) dxMax[p * HW + want.arg[p * OHW + i]!] += dy[p * OHW + i]!;
      const dx = new T(x.length).fill(5);
      K.maxPool2dBackward(dy, arg, dx, g);
      close(dx, dxMax, `max backward ${label}`, tol);

      // avg backward: <avgPool(x), dy> == <x, avgPoolBackward(dy)> for random x
      const dxAvg = new T(x.length).fill(5);
      K.avgPool2dBackward(dy, dxAvg, g);
      let lhs = 0, rhs = 0;
      for (let i = 0; i < nOut; i++) lhs += avg[i]! * dy[i]!;
      for (let i = 0; i < x.length; i++) rhs += x[i]! * dxAvg[i]!;
      assert.ok(Math.abs(lhs - rhs) <= tol * 10 * Math.max(1, Math.abs(lhs)), `avg backward adjoint ${label}: ${lhs} vs ${rhs}`);
      // and directly: each input gets Σ dy/count over the windows containing it
      const dxWant = new Float64Array(x.length);
      for (let p = 0; p < g.N * g.C; p++)
        for (let oh = 0; oh < g.OH; oh++)
          for (let ow = 0; ow < g.OW; ow++) {
            let cnt = 0;
            for (let kh = 0; kh < g.KH; kh++)
              for (let kw = 0; kw < g.KW; kw++) {
                const ih = oh * g.strideH - g.padH + kh, iw = ow * g.strideW - g.padW + kw;
                if (ih < g.H + g.padH && iw < g.W + g.padW) cnt++;
              }
            for (let kh = 0; kh < g.KH; kh++)
              for (let kw = 0; kw < g.KW; kw++) {
                const ih = oh * g.strideH - g.padH + kh, iw = ow * g.strideW - g.padW + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                dxWant[p * HW + ih * g.W + iw] += dy[p * OHW + oh * g.OW + ow]! / cnt;
              }
          }
      close(dxAvg, dxWant, `avg backward ${label}`, tol);
    }
});

test('maxPool2d: padding acts as -inf (all-negative input)', () => {
  const g = poolGeom({ N: 1, C: 1, H: 3, W: 3, KH: 3, KW: 3, sH: 2, sW: 2, pH: 1, pW: 1 });
  const x = new Float32Array(9).map((_, i) => -1 - i);
  const out = new Float32Array(4), arg = new Int32Array(4);
  K.maxPool2d(x, out, arg, g);
  assert.deepEqual([...out], [-1, -2, -4, -5]);
  assert.deepEqual([...arg], [0, 1, 3, 4]);
});

test('channelMoments / channelAffine / channelBackwardSums vs direct loops', () => {
  const rnd = prng(4);
  for (const [name, T, tol] of TYPES)
    for (const [N, C, HW] of [[1, 1, 1], [2, 3, 5], [4, 7, 17], [3, 16, 64]] as [number, number, number][]) {
      const x = randArray(T, N * C * HW, rnd);
      for (let i = 0; i < x.length; i++) x[i] = x[i]! * 3 + 2; // non-zero mean
      const dy = randArray(T, x.length, rnd);
      const mean = new T(C), v = new T(C);
      K.channelMoments(x, mean, v, N, C, HW);
      const wm: number[] = [], wv: number[] = [];
      for (let c = 0; c < C; c++) {
        let s = 0, s2 = 0;
        for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x[(n * C + c) * HW + i]!;
        const m = s / (N * HW);
        for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s2 += (x[(n * C + c) * HW + i]! - m) ** 2;
        wm.push(m); wv.push(s2 / (N * HW));
      }
      close(mean, wm, `${name} mean`, tol);
      close(v, wv, `${name} var`, tol);

      const scale = randArray(T, C, rnd), shift = randArray(T, C, rnd), invstd = new T(C);
      for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(v[c]! + 1e-5);
      const out = new T(x.length);
      K.channelAffine(x, mean, scale, shift, out, N, C, HW);
      const wo: number[] = [];
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++)
        wo.push((x[(n * C + c) * HW + i]! - mean[c]!) * scale[c]! + shift[c]!);
      close(out, wo, `${name} affine`, tol);

      const sd = new T(C), sdx = new T(C);
      K.channelBackwardSums(dy, x, mean, invstd, sd, sdx, N, C, HW);
      const ws: number[] = [], wsx: number[] = [];
      for (let c = 0; c < C; c++) {
        let s = 0, sx = 0;
        for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) {
          const k = (n * C + c) * HW + i;
          s += dy[k]!; sx += dy[k]! * (x[k]! - mean[c]!) * invstd[c]!;
        }
        ws.push(s); wsx.push(sx);
      }
      close(sd, ws, `${name} sumDy`, tol * 10);
      close(sdx, wsx, `${name} sumDyXhat`, tol * 10);
    }
});

test('tsKernels is registered as the ts backend', async () => {
  const { kernelOf } = await import('../../src/tensor/registry.js');
  assert.equal(kernelOf('ts', 'matmul'), K.matmul);
});
