/** Reductions along axes (sum, mean, max, min, variance) with keepdims. */
import { Tensor, allocBuf } from '../tensor.js';
import type { Buf } from '../kernels.js';
import { record } from '../autograd.js';
import { normAxis } from './util.js';

export interface ReduceOptions {
  /** Axes to reduce (negative allowed); all axes when omitted. */
  axes?: number | readonly number[];
  keepdims?: boolean;
}

interface Plan {
  axes: boolean[];
  outShape: number[]; // with keepdims
  finalShape: number[];
  count: number; // elements reduced into each output
}

function plan(op: string, a: Tensor, o: ReduceOptions): Plan {
  const r = a.rank;
  const list = o.axes === undefined ? [...Array(r).keys()] : typeof o.axes === 'number' ? [o.axes] : [...o.axes];
  const axes = new Array<boolean>(r).fill(false);
  for (const ax of list) axes[normAxis(op, ax, r)] = true;
  const outShape = a.shape.map((d, i) => (axes[i] ? 1 : d));
  const finalShape = o.keepdims ? outShape : a.shape.filter((_, i) => !axes[i]);
  const count = a.shape.reduce((p, d, i) => (axes[i] ? p * d : p), 1);
  return { axes, outShape, finalShape, count };
}

/** For each input element, the index of the output element it reduces into. */
function outIndexMap(shape: readonly number[], axes: boolean[]): Int32Array {
  const n = shape.reduce((p, d) => p * d, 1);
  const map = new Int32Array(n);
  const r = shape.length;
  // output strides (over non-reduced dims)
  const ost = new Array<number>(r).fill(0);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    if (!axes[i]) {
      ost[i] = acc;
      acc *= shape[i];
    }
  }
  const idx = new Array<number>(r).fill(0);
  let oi = 0;
  for (let k = 0; k < n; k++) {
    map[k] = oi;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      oi += ost[d];
      if (idx[d] < shape[d]) break;
      oi -= ost[d] * shape[d];
      idx[d] = 0;
    }
  }
  return map;
}

function outSize(p: Plan): number {
  return p.outShape.reduce((q, d) => q * d, 1);
}

export function sum(a: Tensor, o: ReduceOptions = {}): Tensor {
  const p = plan('sum', a, o);
  const map = outIndexMap(a.shape, p.axes);
  const r = allocBuf(a.dtype, outSize(p));
  const x = a.data;
  for (let k = 0; k < x.length; k++) r[map[k]] += x[k];
  return record(new Tensor(r, p.finalShape), 'sum', [a], (g) => {
    const gx = allocBuf(a.dtype, a.size);
    for (let k = 0; k < gx.length; k++) gx[k] = g[map[k]];
    return [gx];
  });
}

export function mean(a: Tensor, o: ReduceOptions = {}): Tensor {
  const p = plan('mean', a, o);
  const map = outIndexMap(a.shape, p.axes);
  const r = allocBuf(a.dtype, outSize(p));
  const x = a.data;
  for (let k = 0; k < x.length; k++) r[map[k]] += x[k];
  const inv = 1 / p.count;
  for (let i = 0; i < r.length; i++) r[i] *= inv;
  return record(new Tensor(r, p.finalShape), 'mean', [a], (g) => {
    const gx = allocBuf(a.dtype, a.size);
    for (let k = 0; k < gx.length; k++) gx[k] = g[map[k]] * inv;
    return [gx];
  });
}

function extreme(op: string, a: Tensor, o: ReduceOptions, better: (x: number, y: number) => boolean): Tensor {
  const p = plan(op, a, o);
  const map = outIndexMap(a.shape, p.axes);
  const n = outSize(p);
  const r = allocBuf(a.dtype, n);
  const arg = new Int32Array(n).fill(-1);
  const x = a.data;
  for (let k = 0; k < x.length; k++) {
    const i = map[k];
    // NaN propagates: once selected it is never replaced.
    if (arg[i] < 0 || (!Number.isNaN(r[i]) && (Number.isNaN(x[k]) || better(x[k], r[i])))) {
      r[i] = x[k];
      arg[i] = k;
    }
  }
  return record(new Tensor(r, p.finalShape), op, [a], (g) => {
    // The gradient goes to the first extreme element (PyTorch's max(dim) convention).
    const gx = allocBuf(a.dtype, a.size);
    for (let i = 0; i < n; i++) if (arg[i] >= 0) gx[arg[i]] += g[i];
    return [gx];
  });
}

export function max(a: Tensor, o: ReduceOptions = {}): Tensor {
  return extreme('max', a, o, (x, y) => x > y);
}

export function min(a: Tensor, o: ReduceOptions = {}): Tensor {
  return extreme('min', a, o, (x, y) => x < y);
}

/** Variance along axes; `unbiased` divides by count-1 (torch.var default) instead of count. */
export function variance(a: Tensor, o: ReduceOptions & { unbiased?: boolean } = {}): Tensor {
  const p = plan('variance', a, o);
  const map = outIndexMap(a.shape, p.axes);
  const n = outSize(p);
  const m = allocBuf(a.dtype, n);
  const x = a.data;
  for (let k = 0; k < x.length; k++) m[map[k]] += x[k];
  for (let i = 0; i < n; i++) m[i] /= p.count;
  const r = allocBuf(a.dtype, n);
  for (let k = 0; k < x.length; k++) {
    const d = x[k] - m[map[k]];
    r[map[k]] += d * d;
  }
  const denom = o.unbiased ? p.count - 1 : p.count;
  for (let i = 0; i < n; i++) r[i] /= denom;
  return record(new Tensor(r, p.finalShape), 'variance', [a], (g) => {
    const gx: Buf = allocBuf(a.dtype, a.size);
    for (let k = 0; k < gx.length; k++) gx[k] = (g[map[k]] * 2 * (x[k] - m[map[k]])) / denom;
    return [gx];
  });
}
