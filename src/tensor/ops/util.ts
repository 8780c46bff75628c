/** Shape helpers shared by ops: broadcasting, axis normalization, strides. */
import { Tensor, allocBuf, sizeOf, type DType } from '../tensor.js';
import type { Buf } from '../kernels.js';
import { TensorError, fmtShape } from '../errors.js';

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting of two shapes, or a TensorError naming the op. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new TensorError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` viewed inside the broadcast `outShape` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const st = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]));
}

/**
 * Calls fn(outIndex, aIndex, bIndex) for every element of the broadcast output.
 * The innermost dimension runs in a tight loop.
 */
export function forEachBroadcast(
  outShape: readonly number[],
  aStr: readonly number[],
  bStr: readonly number[],
  fn: (o: number, ia: number, ib: number) => void,
): void {
  const n = outShape.length;
  const total = sizeOf(outShape);
  if (total === 0) return;
  if (n === 0) {
    fn(0, 0, 0);
    return;
  }
  const inner = outShape[n - 1];
  const sa = aStr[n - 1];
  const sb = bStr[n - 1];
  const idx = new Array<number>(n).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < total; o += inner) {
    let a = ia;
    let b = ib;
    for (let k = 0; k < inner; k++) {
      fn(o + k, a, b);
      a += sa;
      b += sb;
    }
    // advance the outer index (dims 0..n-2)
    for (let d = n - 2; d >= 0; d--) {
      idx[d]++;
      ia += aStr[d];
      ib += bStr[d];
      if (idx[d] < outShape[d]) break;
      ia -= aStr[d] * outShape[d];
      ib -= bStr[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

/** Sums a gradient of shape `from` down to the (broadcastable) shape `to`. */
export function reduceToShape(g: Buf, from: readonly number[], to: readonly number[], dtype: DType): Buf {
  if (sameShape(from, to)) return g;
  const out = allocBuf(dtype, sizeOf(to));
  const st = broadcastStrides(to, from);
  const zero = new Array<number>(from.length).fill(0);
  forEachBroadcast(from, st, zero, (o, i) => {
    out[i] += g[o];
  });
  return out;
}

export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new TensorError(op, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function checkDtypes(op: string, ...ts: Tensor[]): DType {
  const d = ts[0].dtype;
  for (const t of ts) {
    if (t.dtype !== d) throw new TensorError(op, `dtype mismatch: ${ts.map((x) => x.dtype).join(' vs ')}`);
  }
  return d;
}

export function checkRank(op: string, t: Tensor, rank: number, what = 'input'): void {
  if (t.rank !== rank) throw new TensorError(op, `${what} must have rank ${rank}, got shape ${fmtShape(t.shape)}`);
}
