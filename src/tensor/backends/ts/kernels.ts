/**
 * Reference TypeScript backend: every kernel of `KernelMap`, for Float32Array and Float64Array.
 * Semantics follow PyTorch (cross-correlation, NCHW / OIHW, avg pool count_include_pad=true,
 * max pool padding = -inf, NaN wins max pooling). Partial sums are JS doubles, rounded to the
 * element type when stored (exact float64 math for Float64Array buffers).
 *
 * GEMM: 4x4 register tiles of dot products over a row-major A and a [N,K] B (transposed copies are
 * made when the operands are stored otherwise), i-k-j for very shallow K.
 * Convolutions are lowered per (sample, group) to im2col + GEMM (transposed im2col for deep
 * reductions); the backward passes use GEMM + col2im (input) and im2col + GEMM (filter).
 * Depthwise convolutions (one input channel per group) use direct loops.
 */
import type { Buf, ConvGeom, KernelMap, PoolGeom } from '../../kernels.js';
import { registerKernels } from '../../registry.js';

/** A zeroed buffer of the same element type as `like`. */
function alloc(like: Buf, n: number): Buf {
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** A view of `b` starting at element `off` (length `len`). */
function view(b: Buf, off: number, len: number): Buf {
  return b.subarray(off, off + len);
}

/**
 * Reusable scratch buffers (one per element type and slot) to avoid re-allocating im2col / transpose
 * matrices on every call. Requests above SCRATCH_KEEP elements get a fresh, uncached array so that a
 * single huge call does not pin memory.
 */
const SCRATCH_KEEP = 1 << 22;
const scratch32: (Float32Array | undefined)[] = [];
const scratch64: (Float64Array | undefined)[] = [];
function scratch(like: Buf, slot: number, n: number): Buf {
  if (n > SCRATCH_KEEP) return alloc(like, n);
  if (like instanceof Float64Array) {
    let s = scratch64[slot];
    if (s === undefined || s.length < n) {
      s = new Float64Array(Math.max(n, 1024));
      scratch64[slot] = s;
    }
    return s;
  }
  let s = scratch32[slot];
  if (s === undefined || s.length < n) {
    s = new Float32Array(Math.max(n, 1024));
    scratch32[slot] = s;
  }
  return s;
}
// Scratch slots: conv im2col / dcol use 0..1, matmul transposes use 2..3.
const S_COL = 0, S_COLT = 1, S_TA = 2, S_TB = 3;

// ---------------------------------------------------------------------------------------------
// GEMM
// ---------------------------------------------------------------------------------------------

/** dst[C,R] = src[R,C]ᵀ (blocked for cache). */
function transposeInto(src: Buf, R: number, C: number, dst: Buf): Buf {
  const BS = 32;
  for (let r0 = 0; r0 < R; r0 += BS) {
    const r1 = Math.min(R, r0 + BS);
    for (let c0 = 0; c0 < C; c0 += BS) {
      const c1 = Math.min(C, c0 + BS);
      for (let r = r0; r < r1; r++) {
        const so = r * C;
        for (let c = c0; c < c1; c++) dst[c * R + r] = src[so + c]!;
      }
    }
  }
  return dst;
}

/** Depth block: partial sums are added into C once per block. */
const KB = 512;

/**
 * c[M,N] += A·Bᵀ with A row-major [M,K] and B stored [N,K] (both contiguous along k):
 * 4x4 register tiles of dot products, scalar edges.
 */
function gemmNT(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number): void {
  const M4 = M - (M % 4), N4 = N - (N % 4);
  for (let k0 = 0; k0 < K; k0 += KB) {
    const k1 = Math.min(K, k0 + KB);
    for (let i = 0; i < M4; i += 4) {
      const a0 = i * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
      for (let j = 0; j < N4; j += 4) {
        const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let k = k0; k < k1; k++) {
          const x0 = b[b0 + k]!, x1 = b[b1 + k]!, x2 = b[b2 + k]!, x3 = b[b3 + k]!;
          let y = a[a0 + k]!;
          s00 += y * x0; s01 += y * x1; s02 += y * x2; s03 += y * x3;
          y = a[a1 + k]!;
          s10 += y * x0; s11 += y * x1; s12 += y * x2; s13 += y * x3;
          y = a[a2 + k]!;
          s20 += y * x0; s21 += y * x1; s22 += y * x2; s23 += y * x3;
          y = a[a3 + k]!;
          s30 += y * x0; s31 += y * x1; s32 += y * x2; s33 += y * x3;
        }
        let o = i * N + j;
        c[o] += s00; c[o + 1] += s01; c[o + 2] += s02; c[o + 3] += s03; o += N;
        c[o] += s10; c[o + 1] += s11; c[o + 2] += s12; c[o + 3] += s13; o += N;
        c[o] += s20; c[o + 1] += s21; c[o + 2] += s22; c[o + 3] += s23; o += N;
        c[o] += s30; c[o + 1] += s31; c[o + 2] += s32; c[o + 3] += s33;
      }
      // right edge: remaining columns, 4 rows at a time
      for (let j = N4; j < N; j++) {
        const b0 = j * K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = k0; k < k1; k++) {
          const x = b[b0 + k]!;
          s0 += a[a0 + k]! * x; s1 += a[a1 + k]! * x; s2 += a[a2 + k]! * x; s3 += a[a3 + k]! * x;
        }
        c[i * N + j] += s0; c[(i + 1) * N + j] += s1; c[(i + 2) * N + j] += s2; c[(i + 3) * N + j] += s3;
      }
    }
    // bottom edge: remaining rows
    for (let i = M4; i < M; i++) {
      const a0 = i * K;
      let j = 0;
      for (; j < N4; j += 4) {
        const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = k0; k < k1; k++) {
          const y = a[a0 + k]!;
          s0 += y * b[b0 + k]!; s1 += y * b[b1 + k]!; s2 += y * b[b2 + k]!; s3 += y * b[b3 + k]!;
        }
        const o = i * N + j;
        c[o] += s0; c[o + 1] += s1; c[o + 2] += s2; c[o + 3] += s3;
      }
      for (; j < N; j++) {
        const b0 = j * K;
        let s = 0;
        for (let k = k0; k < k1; k++) s += a[a0 + k]! * b[b0 + k]!;
        c[i * N + j] += s;
      }
    }
  }
}

/**
 * c[M,N] += A·B with A row-major [M,K] and B row-major [K,N]: i-k-j order over 4 rows of C
 * (used when K is small, where dot-product tiles would be too short).
 */
function gemmNN(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number): void {
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const c0 = i * N, c1 = c0 + N, c2 = c1 + N, c3 = c2 + N;
    const ai0 = i * K, ai1 = ai0 + K, ai2 = ai1 + K, ai3 = ai2 + K;
    for (let k = 0; k < K; k++) {
      const a0 = a[ai0 + k]!, a1 = a[ai1 + k]!, a2 = a[ai2 + k]!, a3 = a[ai3 + k]!;
      const bo = k * N;
      for (let j = 0; j < N; j++) {
        const bv = b[bo + j]!;
        c[c0 + j] += a0 * bv;
        c[c1 + j] += a1 * bv;
        c[c2 + j] += a2 * bv;
        c[c3 + j] += a3 * bv;
      }
    }
  }
  for (; i < M; i++) {
    const c0 = i * N, ai0 = i * K;
    for (let k = 0; k < K; k++) {
      const a0 = a[ai0 + k]!;
      const bo = k * N;
      for (let j = 0; j < N; j++) c[c0 + j] += a0 * b[bo + j]!;
    }
  }
}

/** Below this depth the i-k-j kernel beats dot-product tiles. */
const SMALL_K = 4;

function matmul(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  if (!accumulate) c.fill(0, 0, M * N);
  if (M === 0 || N === 0 || K === 0) return;
  // A stored [K,M] -> row-major [M,K] copy.
  const A = transA ? transposeInto(a, K, M, scratch(c, S_TA, M * K)) : a;
  if (K < SMALL_K) {
    const B = transB ? transposeInto(b, N, K, scratch(c, S_TB, K * N)) : b;
    gemmNN(A, B, c, M, K, N);
  } else {
    // dot-product kernel wants B stored [N,K]
    const Bt = transB ? b : transposeInto(b, K, N, scratch(c, S_TB, K * N));
    gemmNT(A, Bt, c, M, K, N);
  }
}

// ---------------------------------------------------------------------------------------------
// im2col / col2im
// ---------------------------------------------------------------------------------------------

/**
 * col[(c*KH+kh)*KW+kw, oh*OW+ow] = x[xo + c*H*W + ih*W + iw] (0 outside), for channels [0, Cg)
 * of the plane block starting at xo.
 */
function im2col(x: Buf, xo: number, Cg: number, g: ConvGeom, col: Buf): void {
  const { H, W, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  const OHW = OH * OW;
  let r = 0;
  for (let c = 0; c < Cg; c++) {
    const xc = xo + c * H * W;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++, r++) {
        const ro = r * OHW;
        const offW = kw * dilationW - padW;
        // valid ow range: 0 <= ow*strideW + offW < W
        let owLo = offW >= 0 ? 0 : Math.ceil(-offW / strideW);
        let owHi = W - offW <= 0 ? 0 : Math.ceil((W - offW) / strideW);
        if (owHi > OW) owHi = OW;
        if (owLo > owHi) owLo = owHi;
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * strideH - padH + kh * dilationH;
          const o = ro + oh * OW;
          if (ih < 0 || ih >= H) {
            col.fill(0, o, o + OW);
            continue;
          }
          const xr = xc + ih * W + offW;
          for (let ow = 0; ow < owLo; ow++) col[o + ow] = 0;
          if (strideW === 1) {
            for (let ow = owLo; ow < owHi; ow++) col[o + ow] = x[xr + ow];
          } else {
            for (let ow = owLo; ow < owHi; ow++) col[o + ow] = x[xr + ow * strideW];
          }
          for (let ow = owHi; ow < OW; ow++) col[o + ow] = 0;
        }
      }
    }
  }
}

/** Transposed im2col: colT[oh*OW+ow, (c*KH+kh)*KW+kw] (row length CK = Cg*KH*KW). */
function im2colT(x: Buf, xo: number, Cg: number, g: ConvGeom, colT: Buf): void {
  const { H, W, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  const CK = Cg * KH * KW;
  let r = 0;
  for (let c = 0; c < Cg; c++) {
    const xc = xo + c * H * W;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++, r++) {
        const offW = kw * dilationW - padW;
        let owLo = offW >= 0 ? 0 : Math.ceil(-offW / strideW);
        let owHi = W - offW <= 0 ? 0 : Math.ceil((W - offW) / strideW);
        if (owHi > OW) owHi = OW;
        if (owLo > owHi) owLo = owHi;
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * strideH - padH + kh * dilationH;
          let o = oh * OW * CK + r;
          if (ih < 0 || ih >= H) {
            for (let ow = 0; ow < OW; ow++, o += CK) colT[o] = 0;
            continue;
          }
          const xr = xc + ih * W + offW;
          let ow = 0;
          for (; ow < owLo; ow++, o += CK) colT[o] = 0;
          for (; ow < owHi; ow++, o += CK) colT[o] = x[xr + ow * strideW]!;
          for (; ow < OW; ow++, o += CK) colT[o] = 0;
        }
      }
    }
  }
}

/** Inverse scatter of im2col: dx[xo + ...] += col[...]. */
function col2im(col: Buf, Cg: number, g: ConvGeom, dx: Buf, xo: number): void {
  const { H, W, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  const OHW = OH * OW;
  let r = 0;
  for (let c = 0; c < Cg; c++) {
    const xc = xo + c * H * W;
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++, r++) {
        const ro = r * OHW;
        const offW = kw * dilationW - padW;
        let owLo = offW >= 0 ? 0 : Math.ceil(-offW / strideW);
        let owHi = W - offW <= 0 ? 0 : Math.ceil((W - offW) / strideW);
        if (owHi > OW) owHi = OW;
        if (owLo > owHi) owLo = owHi;
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * strideH - padH + kh * dilationH;
          if (ih < 0 || ih >= H) continue;
          const o = ro + oh * OW;
          const xr = xc + ih * W + offW;
          for (let ow = owLo; ow < owHi; ow++) dx[xr + ow * strideW] += col[o + ow];
        }
      }
    }
  }
}

/** True when im2col is the identity (1x1 kernel, stride 1, no padding): col == x plane block. */
function isPointwise(g: ConvGeom): boolean {
  return g.KH === 1 && g.KW === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0 && g.OH === g.H && g.OW === g.W;
}

// ---------------------------------------------------------------------------------------------
// Depthwise (one input channel per group, C == groups): direct loops beat im2col + GEMM there.
// ---------------------------------------------------------------------------------------------

/** Valid output columns [lo, hi) for kernel column offset offW = kw*dilationW - padW. */
function owRange(g: ConvGeom, offW: number): [number, number] {
  let lo = offW >= 0 ? 0 : Math.ceil(-offW / g.strideW);
  let hi = g.W - offW <= 0 ? 0 : Math.ceil((g.W - offW) / g.strideW);
  if (hi > g.OW) hi = g.OW;
  if (lo > hi) lo = hi;
  return [lo, hi];
}

function depthwiseForward(x: Buf, w: Buf, out: Buf, g: ConvGeom): void {
  const { N, C, H, W, O, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  const Og = O / C, HW = H * W, OHW = OH * OW;
  out.fill(0, 0, N * O * OHW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const xo = (n * C + Math.floor(o / Og)) * HW, oo = (n * O + o) * OHW;
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          const wv = w[(o * KH + kh) * KW + kw]!;
          const offW = kw * dilationW - padW;
          const [lo, hi] = owRange(g, offW);
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * strideH - padH + kh * dilationH;
            if (ih < 0 || ih >= H) continue;
            const xr = xo + ih * W + offW, orow = oo + oh * OW;
            for (let ow = lo; ow < hi; ow++) out[orow + ow] += wv * x[xr + ow * strideW]!;
          }
        }
      }
    }
  }
}

function depthwiseBackwardInput(dy: Buf, w: Buf, dx: Buf, g: ConvGeom): void {
  const { N, C, H, W, O, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  const Og = O / C, HW = H * W, OHW = OH * OW;
  dx.fill(0, 0, N * C * HW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const xo = (n * C + Math.floor(o / Og)) * HW, oo = (n * O + o) * OHW;
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          const wv = w[(o * KH + kh) * KW + kw]!;
          const offW = kw * dilationW - padW;
          const [lo, hi] = owRange(g, offW);
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * strideH - padH + kh * dilationH;
            if (ih < 0 || ih >= H) continue;
            const xr = xo + ih * W + offW, orow = oo + oh * OW;
            for (let ow = lo; ow < hi; ow++) dx[xr + ow * strideW] += wv * dy[orow + ow]!;
          }
        }
      }
    }
  }
}

function depthwiseBackwardFilter(x: Buf, dy: Buf, dw: Buf, g: ConvGeom): void {
  const { N, C, H, W, O, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW } = g;
  const Og = O / C, HW = H * W, OHW = OH * OW;
  for (let o = 0; o < O; o++) {
    const c = Math.floor(o / Og);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const offW = kw * dilationW - padW;
        const [lo, hi] = owRange(g, offW);
        let s = 0;
        for (let n = 0; n < N; n++) {
          const xo = (n * C + c) * HW, oo = (n * O + o) * OHW;
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * strideH - padH + kh * dilationH;
            if (ih < 0 || ih >= H) continue;
            const xr = xo + ih * W + offW, orow = oo + oh * OW;
            for (let ow = lo; ow < hi; ow++) s += dy[orow + ow]! * x[xr + ow * strideW]!;
          }
        }
        dw[(o * KH + kh) * KW + kw] = s;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convolutions
// ---------------------------------------------------------------------------------------------

function conv2d(x: Buf, w: Buf, out: Buf, g: ConvGeom): void {
  const { N, C, H, W, O, KH, KW, OH, OW, groups } = g;
  const Cg = C / groups, Og = O / groups;
  const CK = Cg * KH * KW, OHW = OH * OW, HW = H * W;
  if (N * O * OHW === 0) return;
  if (CK === 0) {
    out.fill(0, 0, N * O * OHW);
    return;
  }
  if (Cg === 1 && KH * KW > 1) return depthwiseForward(x, w, out, g);
  const pw = isPointwise(g);
  // Deep reductions: transposed im2col [OHW, CK] feeds the dot-product GEMM without a copy.
  const transposed = !pw && CK >= SMALL_K;
  const col = pw ? x : scratch(out, transposed ? S_COLT : S_COL, CK * OHW);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < groups; gi++) {
      const xo = (n * C + gi * Cg) * HW;
      const wg = view(w, gi * Og * CK, Og * CK);
      const og = view(out, (n * O + gi * Og) * OHW, Og * OHW);
      if (pw) {
        matmul(wg, view(x, xo, CK * OHW), og, Og, CK, OHW, false, false, false);
      } else if (transposed) {
        im2colT(x, xo, Cg, g, col);
        matmul(wg, col, og, Og, CK, OHW, false, true, false);
      } else {
        im2col(x, xo, Cg, g, col);
        matmul(wg, col, og, Og, CK, OHW, false, false, false);
      }
    }
  }
}

function conv2dBackwardInput(dy: Buf, w: Buf, dx: Buf, g: ConvGeom): void {
  const { N, C, H, W, O, KH, KW, OH, OW, groups } = g;
  const Cg = C / groups, Og = O / groups;
  const CK = Cg * KH * KW, OHW = OH * OW, HW = H * W;
  if (Cg === 1 && KH * KW > 1) return depthwiseBackwardInput(dy, w, dx, g);
  dx.fill(0, 0, N * C * HW);
  if (N * C * HW === 0 || CK === 0 || OHW === 0 || Og === 0) return;
  const pw = isPointwise(g);
  const dcol = scratch(dx, S_COL, CK * OHW);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < groups; gi++) {
      const xo = (n * C + gi * Cg) * HW;
      const wg = view(w, gi * Og * CK, Og * CK);
      const dyg = view(dy, (n * O + gi * Og) * OHW, Og * OHW);
      if (pw) {
        // dx block [Cg, HW] = Wgᵀ · dy_g
        matmul(wg, dyg, view(dx, xo, CK * OHW), CK, Og, OHW, true, false, false);
      } else {
        matmul(wg, dyg, dcol, CK, Og, OHW, true, false, false);
        col2im(dcol, Cg, g, dx, xo);
      }
    }
  }
}

function conv2dBackwardFilter(x: Buf, dy: Buf, dw: Buf, g: ConvGeom): void {
  const { N, C, H, W, O, KH, KW, OH, OW, groups } = g;
  const Cg = C / groups, Og = O / groups;
  const CK = Cg * KH * KW, OHW = OH * OW, HW = H * W;
  if (Cg === 1 && KH * KW > 1) return depthwiseBackwardFilter(x, dy, dw, g);
  dw.fill(0, 0, O * CK);
  if (N === 0 || CK === 0 || OHW === 0 || Og === 0) return;
  const pw = isPointwise(g);
  const col = pw ? x : scratch(dw, S_COL, CK * OHW);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < groups; gi++) {
      const xo = (n * C + gi * Cg) * HW;
      const dwg = view(dw, gi * Og * CK, Og * CK);
      const dyg = view(dy, (n * O + gi * Og) * OHW, Og * OHW);
      // dw_g [Og, CK] += dy_g [Og, OHW] · colᵀ (col stored [CK, OHW])
      if (pw) {
        matmul(dyg, view(x, xo, CK * OHW), dwg, Og, OHW, CK, false, true, true);
      } else {
        im2col(x, xo, Cg, g, col);
        matmul(dyg, col, dwg, Og, OHW, CK, false, true, true);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling
// ---------------------------------------------------------------------------------------------

function maxPool2d(x: Buf, out: Buf, argmax: Int32Array, g: PoolGeom): void {
  const { N, C, H, W, OH, OW, KH, KW, strideH, strideW, padH, padW } = g;
  const HW = H * W, OHW = OH * OW;
  for (let p = 0; p < N * C; p++) {
    const xo = p * HW, oo = p * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * strideH - padH;
      const h0 = Math.max(hs, 0), h1 = Math.min(hs + KH, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * strideW - padW;
        const w0 = Math.max(ws, 0), w1 = Math.min(ws + KW, W);
        let best = -Infinity;
        let bi = h0 < h1 && w0 < w1 ? h0 * W + w0 : -1;
        for (let ih = h0; ih < h1; ih++) {
          const r = ih * W;
          for (let iw = w0; iw < w1; iw++) {
            const v = x[xo + r + iw];
            // NaN propagates (as in PyTorch): a NaN always takes the max.
            if (v > best || v !== v) {
              best = v;
              bi = r + iw;
            }
          }
        }
        out[oo + oh * OW + ow] = best;
        argmax[oo + oh * OW + ow] = bi;
      }
    }
  }
}

function maxPool2dBackward(dy: Buf, argmax: Int32Array, dx: Buf, g: PoolGeom): void {
  const { N, C, H, W, OH, OW } = g;
  const HW = H * W, OHW = OH * OW;
  dx.fill(0, 0, N * C * HW);
  for (let p = 0; p < N * C; p++) {
    const xo = p * HW, oo = p * OHW;
    for (let i = 0; i < OHW; i++) {
      const a = argmax[oo + i]!;
      if (a >= 0) dx[xo + a] += dy[oo + i]!;
    }
  }
}

function avgPool2d(x: Buf, out: Buf, g: PoolGeom): void {
  const { N, C, H, W, OH, OW, KH, KW, strideH, strideW, padH, padW } = g;
  const HW = H * W, OHW = OH * OW;
  for (let p = 0; p < N * C; p++) {
    const xo = p * HW, oo = p * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * strideH - padH;
      const he = Math.min(hs + KH, H + padH);
      const h0 = Math.max(hs, 0), h1 = Math.min(he, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * strideW - padW;
        const we = Math.min(ws + KW, W + padW);
        const w0 = Math.max(ws, 0), w1 = Math.min(we, W);
        const div = (he - hs) * (we - ws);
        let s = 0;
        for (let ih = h0; ih < h1; ih++) {
          const r = xo + ih * W;
          for (let iw = w0; iw < w1; iw++) s += x[r + iw]!;
        }
        out[oo + oh * OW + ow] = s / div;
      }
    }
  }
}

function avgPool2dBackward(dy: Buf, dx: Buf, g: PoolGeom): void {
  const { N, C, H, W, OH, OW, KH, KW, strideH, strideW, padH, padW } = g;
  const HW = H * W, OHW = OH * OW;
  dx.fill(0, 0, N * C * HW);
  for (let p = 0; p < N * C; p++) {
    const xo = p * HW, oo = p * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const hs = oh * strideH - padH;
      const he = Math.min(hs + KH, H + padH);
      const h0 = Math.max(hs, 0), h1 = Math.min(he, H);
      for (let ow = 0; ow < OW; ow++) {
        const ws = ow * strideW - padW;
        const we = Math.min(ws + KW, W + padW);
        const w0 = Math.max(ws, 0), w1 = Math.min(we, W);
        const v = dy[oo + oh * OW + ow]! / ((he - hs) * (we - ws));
        for (let ih = h0; ih < h1; ih++) {
          const r = xo + ih * W;
          for (let iw = w0; iw < w1; iw++) dx[r + iw] += v;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Per-channel (batch norm) kernels
// ---------------------------------------------------------------------------------------------

function channelMoments(x: Buf, mean: Buf, variance: Buf, N: number, C: number, HW: number): void {
  const cnt = N * HW;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) s += x[o + i]!;
    }
    const m = cnt > 0 ? s / cnt : 0;
    let v = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) {
        const d = x[o + i]! - m;
        v += d * d;
      }
    }
    mean[c] = m;
    variance[c] = cnt > 0 ? v / cnt : 0;
  }
}

function channelAffine(x: Buf, mean: Buf, scale: Buf, shift: Buf, out: Buf, N: number, C: number, HW: number): void {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const m = mean[c]!, s = scale[c]!, b = shift[c]!;
      const o = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) out[o + i] = (x[o + i]! - m) * s + b;
    }
  }
}

function channelBackwardSums(dy: Buf, x: Buf, mean: Buf, invstd: Buf, sumDy: Buf, sumDyXhat: Buf, N: number, C: number, HW: number): void {
  for (let c = 0; c < C; c++) {
    const m = mean[c]!;
    let s = 0, sx = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) {
        const d = dy[o + i]!;
        s += d;
        sx += d * (x[o + i]! - m);
      }
    }
    sumDy[c] = s;
    sumDyXhat[c] = sx * invstd[c]!;
  }
}

export const tsKernels: KernelMap = {
  matmul,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardFilter,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  channelMoments,
  channelAffine,
  channelBackwardSums,
};

registerKernels('ts', tsKernels);
