/**
 * Fused, differentiable message-passing primitives of the metanetwork (each equals a composition of
 * engine ops — indexSelect, mul, segmentMean/Max/Min, square, sub, clamp, sqrt, concat — and is
 * tested against it; fusing them removes a dozen [E, H] temporaries per layer).
 */
import { TensorError } from '../tensor/errors.js';
import { Tensor, allocBuf } from '../tensor/tensor.js';
import { record } from '../tensor/autograd.js';

function check2d(op: string, t: Tensor, what: string, cols?: number): void {
  if (t.rank !== 2 || (cols !== undefined && t.shape[1] !== cols)) {
    throw new TensorError(op, `${what} must be [rows, ${cols ?? 'H'}], got [${t.shape.join(', ')}]`);
  }
}

function checkIndex(op: string, idx: Int32Array, n: number, what: string): void {
  for (let e = 0; e < idx.length; e++) {
    const v = idx[e];
    if (!(v >= 0 && v < n)) throw new TensorError(op, `${what}[${e}] = ${v} out of range [0, ${n})`);
  }
}

/**
 * out[e, :] = A[ia[e], :] ⊙ B[ib[e], :] ⊙ C[e, :] ⊙ s   (s an optional constant row vector)
 * = mul(mul(indexSelect(A, 0, ia), indexSelect(B, 0, ib)), mul(C, s)).
 */
export function gatherMul3(A: Tensor, ia: Int32Array, B: Tensor, ib: Int32Array, C: Tensor, s: Tensor | null = null): Tensor {
  const op = 'gatherMul3';
  check2d(op, C, 'C');
  const [E, H] = C.shape;
  check2d(op, A, 'A', H);
  check2d(op, B, 'B', H);
  if (ia.length !== E || ib.length !== E) throw new TensorError(op, `${ia.length}/${ib.length} indices for ${E} rows`);
  checkIndex(op, ia, A.shape[0], 'ia');
  checkIndex(op, ib, B.shape[0], 'ib');
  if (s !== null && s.size !== H) throw new TensorError(op, `s has ${s.size} entries, rows have ${H}`);
  if (A.dtype !== C.dtype || B.dtype !== C.dtype || (s !== null && s.dtype !== C.dtype)) throw new TensorError(op, `dtype mismatch`);
  const dtype = C.dtype;
  const a = A.data, b = B.data, c = C.data, sv = s?.data ?? null;
  const o = allocBuf(dtype, E * H);
  for (let e = 0; e < E; e++) {
    const pa = ia[e] * H, pb = ib[e] * H, pc = e * H;
    if (sv === null) for (let k = 0; k < H; k++) o[pc + k] = a[pa + k] * b[pb + k] * c[pc + k];
    else for (let k = 0; k < H; k++) o[pc + k] = a[pa + k] * b[pb + k] * (c[pc + k] * sv[k]);
  }
  const ia2 = ia.slice(), ib2 = ib.slice();
  const f32 = dtype === 'float32';
  return record(new Tensor(o, [E, H]), op, [A, B, C], (g) => {
    const gA = A.requiresGrad ? allocBuf(dtype, A.size) : null;
    const gB = B.requiresGrad ? allocBuf(dtype, B.size) : null;
    const gC = C.requiresGrad ? allocBuf(dtype, C.size) : null;
    // s ⊙ C, rounded to the dtype, made here rather than kept from the forward (an [E, H] buffer
    // less on the tape per call)
    let cs: typeof c = c;
    if (sv !== null) {
      cs = allocBuf(dtype, E * H);
      if (f32) for (let e = 0; e < E; e++) for (let k = 0; k < H; k++) cs[e * H + k] = Math.fround(c[e * H + k] * sv[k]);
      else for (let e = 0; e < E; e++) for (let k = 0; k < H; k++) cs[e * H + k] = c[e * H + k] * sv[k];
    }
    if (gA !== null && gB !== null) {
      for (let e = 0; e < E; e++) {
        const pa = ia2[e] * H, pb = ib2[e] * H, pc = e * H;
        for (let k = 0; k < H; k++) {
          const gc = g[pc + k] * cs[pc + k];
          gA[pa + k] += gc * b[pb + k];
          gB[pb + k] += gc * a[pa + k];
        }
      }
    } else if (gA !== null || gB !== null) {
      const [gX, ix, Y, iy] = gA !== null ? [gA, ia2, b, ib2] : [gB!, ib2, a, ia2];
      for (let e = 0; e < E; e++) {
        const px = ix[e] * H, py = iy[e] * H, pc = e * H;
        for (let k = 0; k < H; k++) gX[px + k] += g[pc + k] * cs[pc + k] * Y[py + k];
      }
    }
    if (gC !== null) {
      for (let e = 0; e < E; e++) {
        const pa = ia2[e] * H, pb = ib2[e] * H, pc = e * H;
        if (sv === null) for (let k = 0; k < H; k++) gC[pc + k] = g[pc + k] * a[pa + k] * b[pb + k];
        else for (let k = 0; k < H; k++) gC[pc + k] = g[pc + k] * a[pa + k] * b[pb + k] * sv[k];
      }
    }
    return [gA, gB, gC];
  });
}

/** PyG StdAggregation's floor on the variance; std values ≤ sqrt of it are set to 0. */
export const STD_MIN_VAR = 1e-5;

/**
 * The 4 aggregations of the metanetwork over incoming edges, concatenated: [N, 4H] =
 * [mean | std | max | min] of the rows m[e, :] with dst[e] = n (empty → 0), where
 * std = sqrt(clamp(E[m²] − E[m]², 1e-5)) and entries ≤ sqrt(1e-5) are set to 0 (PyG). Gradients:
 * mean and std analytic (std: zero where it was floored), max/min to the first arg-extreme.
 */
export function pnaAggregate(m: Tensor, dst: Int32Array, N: number): Tensor {
  const op = 'pnaAggregate';
  check2d(op, m, 'm');
  const [E, H] = m.shape;
  if (dst.length !== E) throw new TensorError(op, `${dst.length} destinations for ${E} messages`);
  checkIndex(op, dst, N, 'dst');
  const dtype = m.dtype;
  const x = m.data;
  const W = 4 * H;
  const o = allocBuf(dtype, N * W);
  // Accumulate in the tensor's dtype, as the composed engine ops do.
  const sum = allocBuf(dtype, N * H);
  const sumSq = allocBuf(dtype, N * H);
  const cnt = new Float64Array(N);
  const mx = allocBuf(dtype, N * H);
  const mn = allocBuf(dtype, N * H);
  const argMax = new Int32Array(N * H).fill(-1); // flat message index of the first extreme
  const argMin = new Int32Array(N * H).fill(-1);
  // float32 squares rounded to float32 before they are summed, as square() then segmentMean do; the
  // two dtypes get separate loops (a per-element call through a function variable cost more than the
  // arithmetic)
  const f32 = dtype === 'float32';
  for (let e = 0; e < E; e++) {
    const n = dst[e];
    const first = cnt[n] === 0;
    cnt[n]++;
    const pm = e * H, ps = n * H;
    if (first) {
      for (let k = 0; k < H; k++) {
        const v = x[pm + k];
        sum[ps + k] = v;
        sumSq[ps + k] = f32 ? Math.fround(v * v) : v * v;
        mx[ps + k] = v;
        mn[ps + k] = v;
        argMax[ps + k] = pm + k;
        argMin[ps + k] = pm + k;
      }
      continue;
    }
    if (f32) for (let k = 0; k < H; k++) sumSq[ps + k] += Math.fround(x[pm + k] * x[pm + k]);
    else for (let k = 0; k < H; k++) sumSq[ps + k] += x[pm + k] * x[pm + k];
    for (let k = 0; k < H; k++) {
      const v = x[pm + k];
      const j = ps + k;
      sum[j] += v;
      // strict comparisons: the first extreme wins; NaN propagates and is never replaced
      const cx = mx[j];
      if (v > cx || (v !== v && cx === cx)) {
        mx[j] = v;
        argMax[j] = pm + k;
      }
      const cn = mn[j];
      if (v < cn || (v !== v && cn === cn)) {
        mn[j] = v;
        argMin[j] = pm + k;
      }
    }
  }
  const mean = allocBuf(dtype, N * H);
  const std = allocBuf(dtype, N * H); // 0 where floored (no gradient)
  const tmp = allocBuf(dtype, 3);
  const thr = dtype === 'float32' ? Math.fround(Math.sqrt(STD_MIN_VAR)) : Math.sqrt(STD_MIN_VAR);
  for (let n = 0; n < N; n++) {
    const c = cnt[n];
    const ps = n * H, po = n * W;
    for (let k = 0; k < H; k++) {
      if (c === 0) continue; // all four are 0
      // mean and E[m²] rounded to the dtype like segmentMean; var = E[m²] − E[m]² likewise.
      tmp[0] = c > 1 ? sum[ps + k] / c : sum[ps + k];
      tmp[1] = c > 1 ? sumSq[ps + k] / c : sumSq[ps + k];
      tmp[2] = tmp[0] * tmp[0];
      tmp[2] = tmp[1] - tmp[2];
      const v = tmp[2];
      tmp[2] = Math.sqrt(v < STD_MIN_VAR ? STD_MIN_VAR : v);
      const sd = tmp[2] <= thr ? 0 : tmp[2];
      mean[ps + k] = tmp[0];
      std[ps + k] = sd;
      o[po + k] = tmp[0];
      o[po + H + k] = sd;
      o[po + 2 * H + k] = mx[ps + k];
      o[po + 3 * H + k] = mn[ps + k];
    }
  }
  const dst2 = dst.slice();
  return record(new Tensor(o, [N, W]), op, [m], (g) => {
    const gx = allocBuf(dtype, m.size);
    // per node: gMean/c and gStd/(c·std) (0 where std was floored), then one pass over the edges
    const gm = new Float64Array(N * H);
    const gs = new Float64Array(N * H);
    for (let n = 0; n < N; n++) {
      if (cnt[n] === 0) continue;
      const inv = 1 / cnt[n];
      const ps = n * H, po = n * W;
      for (let k = 0; k < H; k++) {
        gm[ps + k] = g[po + k] * inv;
        const sd = std[ps + k];
        gs[ps + k] = sd !== 0 ? (g[po + H + k] * inv) / sd : 0;
      }
    }
    for (let e = 0; e < E; e++) {
      const ps = dst2[e] * H, pm = e * H;
      for (let k = 0; k < H; k++) gx[pm + k] = gm[ps + k] + gs[ps + k] * (x[pm + k] - mean[ps + k]);
    }
    for (let n = 0; n < N; n++) {
      const ps = n * H, po = n * W;
      for (let k = 0; k < H; k++) {
        const jx = argMax[ps + k], jn = argMin[ps + k];
        if (jx >= 0) gx[jx] += g[po + 2 * H + k];
        if (jn >= 0) gx[jn] += g[po + 3 * H + k];
      }
    }
    return [gx];
  });
}
