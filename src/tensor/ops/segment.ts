/**
 * Segment (scatter) reductions for graph message passing: rows of data[E, ...] are reduced into
 * numSegments output rows by segmentIds[E] (e.g. messages on edges into their target nodes).
 * Ids need not be sorted. Empty segments give 0 (PyG convention). Rows are contiguous blocks of
 * `inner` elements, so every pass is a single sweep over the data.
 */
import { Tensor, allocBuf } from '../tensor.js';
import type { Buf } from '../kernels.js';
import { record } from '../autograd.js';
import { TensorError, fmtShape } from '../errors.js';

/** Segment ids: an Int32Array (or a plain array of integers) with one id per data row. */
export type SegmentIds = Int32Array | readonly number[];

interface SegmentPlan {
  ids: Int32Array;
  E: number;
  inner: number;
  outShape: number[];
}

function plan(op: string, data: Tensor, segmentIds: SegmentIds, numSegments: number): SegmentPlan {
  if (data.rank < 1) throw new TensorError(op, `data must have rank ≥ 1, got shape ${fmtShape(data.shape)}`);
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new TensorError(op, `numSegments must be a non-negative integer, got ${numSegments} (data ${fmtShape(data.shape)})`);
  }
  const E = data.shape[0];
  if (segmentIds.length !== E) {
    throw new TensorError(op, `${segmentIds.length} segment ids for data ${fmtShape(data.shape)} (expected ${E})`);
  }
  const ids = new Int32Array(E); // a copy: the backward pass must not see later caller mutation
  for (let e = 0; e < E; e++) {
    const s = segmentIds[e];
    if (!Number.isInteger(s) || s < 0 || s >= numSegments) {
      throw new TensorError(op, `segment id ${s} (row ${e}) out of range for numSegments ${numSegments} (data ${fmtShape(data.shape)})`);
    }
    ids[e] = s;
  }
  const inner = E === 0 ? data.shape.slice(1).reduce((p, d) => p * d, 1) : data.size / E;
  return { ids, E, inner, outShape: [numSegments, ...data.shape.slice(1)] };
}

/** out[ids[e], :] += x[e, :]. */
function scatterSum(x: Buf, ids: Int32Array, inner: number, out: Buf): void {
  const E = ids.length;
  if (inner === 1) {
    for (let e = 0; e < E; e++) out[ids[e]] += x[e];
    return;
  }
  for (let e = 0; e < E; e++) {
    const d = ids[e] * inner;
    const s = e * inner;
    for (let k = 0; k < inner; k++) out[d + k] += x[s + k];
  }
}

/** out[e, :] = g[ids[e], :] · (w ? w[ids[e]] : 1). */
function gatherRows(g: Buf, ids: Int32Array, inner: number, out: Buf, w: Float64Array | null): void {
  const E = ids.length;
  for (let e = 0; e < E; e++) {
    const id = ids[e];
    const src = id * inner;
    const d = e * inner;
    if (w === null) {
      if (inner === 1) out[d] = g[src];
      else if (inner >= 64) out.set(g.subarray(src, src + inner), d);
      else for (let k = 0; k < inner; k++) out[d + k] = g[src + k];
    } else {
      const c = w[id];
      for (let k = 0; k < inner; k++) out[d + k] = g[src + k] * c;
    }
  }
}

/** Sum of the rows of each segment: [numSegments, ...]. */
export function segmentSum(data: Tensor, segmentIds: SegmentIds, numSegments: number): Tensor {
  const { ids, inner, outShape } = plan('segmentSum', data, segmentIds, numSegments);
  const dtype = data.dtype;
  const o = allocBuf(dtype, numSegments * inner);
  scatterSum(data.data, ids, inner, o);
  return record(new Tensor(o, outShape), 'segmentSum', [data], (g) => {
    const gx = allocBuf(dtype, data.size);
    gatherRows(g, ids, inner, gx, null);
    return [gx];
  });
}

/** Mean of the rows of each segment (0 for empty segments): [numSegments, ...]. */
export function segmentMean(data: Tensor, segmentIds: SegmentIds, numSegments: number): Tensor {
  const { ids, E, inner, outShape } = plan('segmentMean', data, segmentIds, numSegments);
  const dtype = data.dtype;
  const o = allocBuf(dtype, numSegments * inner);
  scatterSum(data.data, ids, inner, o);
  const invCount = new Float64Array(numSegments);
  for (let e = 0; e < E; e++) invCount[ids[e]]++;
  for (let s = 0; s < numSegments; s++) {
    const c = invCount[s];
    invCount[s] = c > 0 ? 1 / c : 0;
    if (c > 1) {
      const b = s * inner;
      for (let j = 0; j < inner; j++) o[b + j] /= c;
    }
  }
  return record(new Tensor(o, outShape), 'segmentMean', [data], (g) => {
    const gx = allocBuf(dtype, data.size);
    gatherRows(g, ids, inner, gx, invCount);
    return [gx];
  });
}

function segmentExtreme(op: string, data: Tensor, segmentIds: SegmentIds, numSegments: number, isMax: boolean): Tensor {
  const { ids, E, inner, outShape } = plan(op, data, segmentIds, numSegments);
  const dtype = data.dtype;
  const n = numSegments * inner;
  const o = allocBuf(dtype, n);
  const arg = new Int32Array(n).fill(-1); // flat data index of the chosen element
  const x = data.data;
  for (let e = 0; e < E; e++) {
    const d = ids[e] * inner;
    const s = e * inner;
    for (let k = 0; k < inner; k++) {
      const v = x[s + k];
      const j = d + k;
      const cur = o[j];
      // First extreme wins (strict comparison); NaN propagates: once selected it is never replaced.
      if (arg[j] < 0 || (!Number.isNaN(cur) && (Number.isNaN(v) || (isMax ? v > cur : v < cur)))) {
        o[j] = v;
        arg[j] = s + k;
      }
    }
  }
  return record(new Tensor(o, outShape), op, [data], (g) => {
    const gx = allocBuf(dtype, data.size);
    for (let j = 0; j < n; j++) if (arg[j] >= 0) gx[arg[j]] += g[j];
    return [gx];
  });
}

/** Elementwise max over the rows of each segment (0 for empty segments); the gradient goes to the first arg-max. */
export function segmentMax(data: Tensor, segmentIds: SegmentIds, numSegments: number): Tensor {
  return segmentExtreme('segmentMax', data, segmentIds, numSegments, true);
}

/** Elementwise min over the rows of each segment (0 for empty segments); the gradient goes to the first arg-min. */
export function segmentMin(data: Tensor, segmentIds: SegmentIds, numSegments: number): Tensor {
  return segmentExtreme('segmentMin', data, segmentIds, numSegments, false);
}
