/**
 * Shape and indexing ops: permute/transpose, concat/stack/split, slice, indexSelect (gather), pad and
 * expand/broadcastTo. Every op copies into fresh storage (except identity permutes, which share it
 * like reshape). Axis ops view their input as [outer, n, inner] around the axis, so the hot paths
 * (concat, stack, indexSelect along axis 0) are copies of contiguous inner blocks.
 */
import { Tensor, allocBuf, sizeOf, type DType } from '../tensor.js';
import type { Buf } from '../kernels.js';
import { record } from '../autograd.js';
import { TensorError, fmtShape } from '../errors.js';
import { broadcastStrides, checkDtypes, forEachBroadcast, reduceToShape, sameShape, stridesOf } from './util.js';

// ---------- helpers shared with the other op files ----------

/** Normalizes a (possibly negative) axis of `shape`, or throws a TensorError naming the op and the shape. */
export function axisOf(op: string, axis: number, shape: readonly number[]): number {
  const r = shape.length;
  const a = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(a) || a < 0 || a >= r) {
    throw new TensorError(op, `axis ${axis} out of range for rank ${r} (shape ${fmtShape(shape)})`);
  }
  return a;
}

/** The [outer, n, inner] view of `shape` around `axis`. */
export function axisView(shape: readonly number[], axis: number): { outer: number; n: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return { outer, n: shape[axis], inner };
}

/** Below this length a plain loop beats creating a subarray for `set`. */
const SET_THRESHOLD = 64;

/** dst[dOff .. dOff+len) = src[sOff .. sOff+len). */
export function copyBlock(dst: Buf, dOff: number, src: Buf, sOff: number, len: number): void {
  if (len >= SET_THRESHOLD) {
    dst.set(src.subarray(sOff, sOff + len), dOff);
  } else {
    for (let k = 0; k < len; k++) dst[dOff + k] = src[sOff + k];
  }
}

/** dst[dOff .. dOff+len) += src[sOff .. sOff+len). */
function addBlock(dst: Buf, dOff: number, src: Buf, sOff: number, len: number): void {
  for (let k = 0; k < len; k++) dst[dOff + k] += src[sOff + k];
}

/**
 * Concatenates, for each of `outer` rows, a block of blocks[i] elements from each source
 * (source i is [outer, blocks[i]]). Returns [outer, Σ blocks].
 */
function catBlocks(srcs: readonly Buf[], blocks: readonly number[], outer: number, dtype: DType): Buf {
  let row = 0;
  for (const b of blocks) row += b;
  const out = allocBuf(dtype, outer * row);
  if (outer === 1) {
    let off = 0;
    for (let i = 0; i < srcs.length; i++) {
      out.set(srcs[i], off);
      off += blocks[i];
    }
    return out;
  }
  for (let o = 0; o < outer; o++) {
    let off = o * row;
    for (let i = 0; i < srcs.length; i++) {
      const b = blocks[i];
      copyBlock(out, off, srcs[i], o * b, b);
      off += b;
    }
  }
  return out;
}

/** The inverse of catBlocks for one source: g is [outer, row]; returns [outer, block] starting at column col. */
function uncatBlock(g: Buf, outer: number, row: number, col: number, block: number, dtype: DType): Buf {
  const out = allocBuf(dtype, outer * block);
  if (outer === 1) {
    out.set(g.subarray(col, col + block));
    return out;
  }
  for (let o = 0; o < outer; o++) copyBlock(out, o * block, g, o * row + col, block);
  return out;
}

/** out[o, j, :] = src[o, idx[j], :] for src viewed as [outer, n, inner]. */
function gatherAxis(src: Buf, outer: number, n: number, inner: number, idx: Int32Array, dtype: DType): Buf {
  const m = idx.length;
  const out = allocBuf(dtype, outer * m * inner);
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const sb = o * n, db = o * m;
      for (let j = 0; j < m; j++) out[db + j] = src[sb + idx[j]];
    }
    return out;
  }
  for (let o = 0; o < outer; o++) {
    const sb = o * n * inner, db = o * m * inner;
    for (let j = 0; j < m; j++) copyBlock(out, db + j * inner, src, sb + idx[j] * inner, inner);
  }
  return out;
}

/** The adjoint of gatherAxis: out[o, idx[j], :] += g[o, j, :] (out is [outer, n, inner]). */
function scatterAddAxis(g: Buf, outer: number, n: number, inner: number, idx: Int32Array, dtype: DType): Buf {
  const m = idx.length;
  const out = allocBuf(dtype, outer * n * inner);
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const db = o * n, sb = o * m;
      for (let j = 0; j < m; j++) out[db + idx[j]] += g[sb + j];
    }
    return out;
  }
  for (let o = 0; o < outer; o++) {
    const db = o * n * inner, sb = o * m * inner;
    for (let j = 0; j < m; j++) addBlock(out, db + idx[j] * inner, g, sb + j * inner, inner);
  }
  return out;
}

// ---------- permute / transpose ----------

/** Copies src (of `shape`) permuted so that output dim d is input dim perm[d]. */
function permuteBuf(src: Buf, shape: readonly number[], perm: readonly number[], dtype: DType): Buf {
  const r = shape.length;
  const out = allocBuf(dtype, src.length);
  if (out.length === 0) return out;
  if (r === 0) {
    out[0] = src[0];
    return out;
  }
  const inStr = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const st = perm.map((p) => inStr[p]); // input stride of each output dim
  const inner = outShape[r - 1];
  const si = st[r - 1];
  const idx = new Array<number>(r).fill(0);
  let base = 0;
  for (let o = 0; o < out.length; o += inner) {
    let s = base;
    for (let k = 0; k < inner; k++) {
      out[o + k] = src[s];
      s += si;
    }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      base += st[d];
      if (idx[d] < outShape[d]) break;
      base -= st[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return out;
}

function permuteImpl(op: string, a: Tensor, perm: readonly number[]): Tensor {
  const r = a.rank;
  if (perm.length !== r) throw new TensorError(op, `permutation ${fmtShape(perm)} has ${perm.length} axes, input ${fmtShape(a.shape)} has ${r}`);
  const p = perm.map((ax) => axisOf(op, ax, a.shape));
  const seen = new Array<boolean>(r).fill(false);
  for (const ax of p) {
    if (seen[ax]) throw new TensorError(op, `${fmtShape(perm)} is not a permutation of the axes of ${fmtShape(a.shape)}`);
    seen[ax] = true;
  }
  const outShape = p.map((ax) => a.shape[ax]);
  if (p.every((ax, i) => ax === i)) {
    return record(new Tensor(a.data, outShape), op, [a], (g) => [g]);
  }
  const inv = new Array<number>(r);
  for (let i = 0; i < r; i++) inv[p[i]] = i;
  const out = new Tensor(permuteBuf(a.data, a.shape, p, a.dtype), outShape);
  return record(out, op, [a], (g) => [permuteBuf(g, outShape, inv, a.dtype)]);
}

/** Reorders axes: output axis d is input axis perm[d] (negative axes allowed). */
export function permute(a: Tensor, perm: readonly number[]): Tensor {
  return permuteImpl('permute', a, perm);
}

/** Swaps two axes (the last two by default). */
export function transpose(a: Tensor, axis0 = -2, axis1 = -1): Tensor {
  const i = axisOf('transpose', axis0, a.shape);
  const j = axisOf('transpose', axis1, a.shape);
  const perm = [...Array(a.rank).keys()];
  perm[i] = j;
  perm[j] = i;
  return permuteImpl('transpose', a, perm);
}

// ---------- concat / stack / split / slice ----------

/** Joins tensors along an existing axis; all other dims must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('concat', 'needs at least one tensor');
  const dtype = checkDtypes('concat', ...tensors);
  const first = tensors[0];
  if (first.rank === 0) throw new TensorError('concat', `cannot concatenate scalars (shape ${fmtShape(first.shape)})`);
  const ax = axisOf('concat', axis, first.shape);
  let total = 0;
  for (const t of tensors) {
    const ok = t.rank === first.rank && t.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!ok) {
      throw new TensorError('concat', `shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)} differ outside axis ${axis}: ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`);
    }
    total += t.shape[ax];
  }
  const { outer, inner } = axisView(first.shape, ax);
  const blocks = tensors.map((t) => t.shape[ax] * inner);
  const outShape = [...first.shape];
  outShape[ax] = total;
  const out = new Tensor(catBlocks(tensors.map((t) => t.data), blocks, outer, dtype), outShape);
  const row = total * inner;
  return record(out, 'concat', tensors, (g) => {
    let col = 0;
    return tensors.map((t, i) => {
      const c = col;
      col += blocks[i];
      return t.requiresGrad ? uncatBlock(g, outer, row, c, blocks[i], dtype) : null;
    });
  });
}

/** Joins equally shaped tensors along a new axis (axis in [-(rank+1), rank]). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('stack', 'needs at least one tensor');
  const dtype = checkDtypes('stack', ...tensors);
  const shape = tensors[0].shape;
  for (const t of tensors) {
    if (!sameShape(t.shape, shape)) {
      throw new TensorError('stack', `shapes differ: ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`);
    }
  }
  const r = shape.length + 1;
  const ax = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= r) {
    throw new TensorError('stack', `axis ${axis} out of range for stacking tensors of shape ${fmtShape(shape)}`);
  }
  let outer = 1;
  for (let i = 0; i < ax; i++) outer *= shape[i];
  const block = outer === 0 ? 0 : sizeOf(shape) / outer;
  const k = tensors.length;
  const outShape = [...shape.slice(0, ax), k, ...shape.slice(ax)];
  const blocks = new Array<number>(k).fill(block);
  const out = new Tensor(catBlocks(tensors.map((t) => t.data), blocks, outer, dtype), outShape);
  return record(out, 'stack', tensors, (g) => tensors.map((t, i) => (t.requiresGrad ? uncatBlock(g, outer, k * block, i * block, block, dtype) : null)));
}

/** Resolves Python-style slice bounds (negative from the end, clamped) along a dim of length n. */
function sliceBounds(start: number, end: number, n: number): [number, number] {
  const norm = (v: number): number => (v < 0 ? Math.max(0, v + n) : Math.min(v, n));
  return [norm(start), norm(end)];
}

/** a[..., start:end:step, ...] with validated, already clamped bounds (step ≥ 1). */
function sliceImpl(op: string, a: Tensor, ax: number, s: number, e: number, step: number): Tensor {
  const { outer, n, inner } = axisView(a.shape, ax);
  const dtype = a.dtype;
  const m = e > s ? Math.ceil((e - s) / step) : 0;
  const outShape = [...a.shape];
  outShape[ax] = m;
  if (step === 1) {
    const row = n * inner;
    const block = m * inner;
    const col = s * inner;
    const out = new Tensor(uncatBlock(a.data, outer, row, col, block, dtype), outShape);
    return record(out, op, [a], (g) => {
      const gx = allocBuf(dtype, a.size);
      if (outer === 1) gx.set(g, col);
      else for (let o = 0; o < outer; o++) copyBlock(gx, o * row + col, g, o * block, block);
      return [gx];
    });
  }
  const idx = new Int32Array(m);
  for (let j = 0; j < m; j++) idx[j] = s + j * step;
  const out = new Tensor(gatherAxis(a.data, outer, n, inner, idx, dtype), outShape);
  return record(out, op, [a], (g) => [scatterAddAxis(g, outer, n, inner, idx, dtype)]);
}

/**
 * a[start:end:step] along `axis` with Python semantics: negative bounds count from the end and
 * bounds are clamped to the dim; `end` defaults to the dim's length. step must be a positive integer.
 */
export function slice(a: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const ax = axisOf('slice', axis, a.shape);
  const n = a.shape[ax];
  if (!Number.isInteger(step) || step < 1) throw new TensorError('slice', `step must be a positive integer, got ${step} (shape ${fmtShape(a.shape)})`);
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
    throw new TensorError('slice', `bounds must be integers, got ${start}:${end} (shape ${fmtShape(a.shape)})`);
  }
  const [s, e] = sliceBounds(start, end ?? n, n);
  return sliceImpl('slice', a, ax, s, e, step);
}

/**
 * Splits along `axis` into pieces of the given sizes (which must sum to the dim), or, for a number,
 * into chunks of that size with a smaller last chunk (torch.split semantics).
 */
export function split(a: Tensor, sizes: readonly number[] | number, axis = 0): Tensor[] {
  const ax = axisOf('split', axis, a.shape);
  const n = a.shape[ax];
  let list: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes < 1) throw new TensorError('split', `chunk size must be a positive integer, got ${sizes} (shape ${fmtShape(a.shape)})`);
    list = [];
    for (let s = 0; s < n; s += sizes) list.push(Math.min(sizes, n - s));
    if (list.length === 0) list.push(0);
  } else {
    list = [...sizes];
    let total = 0;
    for (const s of list) {
      if (!Number.isInteger(s) || s < 0) throw new TensorError('split', `sizes ${fmtShape(list)} must be non-negative integers`);
      total += s;
    }
    if (total !== n) {
      throw new TensorError('split', `sizes ${fmtShape(list)} sum to ${total}, but axis ${axis} of ${fmtShape(a.shape)} has ${n}`);
    }
  }
  const out: Tensor[] = [];
  let s = 0;
  for (const len of list) {
    out.push(sliceImpl('split', a, ax, s, s + len, 1));
    s += len;
  }
  return out;
}

// ---------- indexSelect ----------

/**
 * Gathers entries along `axis`: out[..., j, ...] = a[..., indices[j], ...]. Indices may repeat (the
 * backward pass scatter-adds), and must lie in [0, dim).
 */
export function indexSelect(a: Tensor, axis: number, indices: Int32Array | readonly number[]): Tensor {
  const ax = axisOf('indexSelect', axis, a.shape);
  const { outer, n, inner } = axisView(a.shape, ax);
  const m = indices.length;
  const idx = indices instanceof Int32Array ? indices : new Int32Array(m);
  for (let j = 0; j < m; j++) {
    const v = indices[j];
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new TensorError('indexSelect', `index ${v} (position ${j}) out of range for axis ${axis} of shape ${fmtShape(a.shape)}`);
    }
    if (idx !== indices) idx[j] = v;
  }
  // Copy the indices so the backward pass is immune to later caller mutation.
  const saved = idx === indices ? idx.slice() : idx;
  const outShape = [...a.shape];
  outShape[ax] = m;
  const out = new Tensor(gatherAxis(a.data, outer, n, inner, saved, a.dtype), outShape);
  return record(out, 'indexSelect', [a], (g) => [scatterAddAxis(g, outer, n, inner, saved, a.dtype)]);
}

// ---------- pad ----------

/**
 * Calls fn(srcOffset, dstOffset, length) for every last-axis row of a tensor of shape `shape`
 * placed inside a larger tensor of shape `outer` at per-axis offsets `offsets`.
 */
function forEachPlacedRow(
  shape: readonly number[],
  outShape: readonly number[],
  offsets: readonly number[],
  fn: (src: number, dst: number, len: number) => void,
): void {
  const r = shape.length;
  const total = sizeOf(shape);
  if (total === 0) return;
  if (r === 0) {
    fn(0, 0, 1);
    return;
  }
  const ost = stridesOf(outShape);
  const len = shape[r - 1];
  let base = 0;
  for (let d = 0; d < r; d++) base += offsets[d] * ost[d];
  const idx = new Array<number>(r).fill(0);
  for (let s = 0; s < total; s += len) {
    fn(s, base, len);
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      base += ost[d];
      if (idx[d] < shape[d]) break;
      base -= ost[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/**
 * Constant padding. `pads[i] = [before, after]` applies to axis i when pads has one entry per axis,
 * or to the last pads.length axes (in order) when it has fewer. Pads are non-negative integers.
 */
export function pad(a: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  const r = a.rank;
  const k = pads.length;
  if (k > r) throw new TensorError('pad', `${k} pad pairs for input of shape ${fmtShape(a.shape)} (rank ${r})`);
  const offsets = new Array<number>(r).fill(0);
  const outShape = [...a.shape];
  for (let i = 0; i < k; i++) {
    const [b, e] = pads[i];
    if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < 0) {
      throw new TensorError('pad', `pads must be non-negative integers, got [${b}, ${e}] for shape ${fmtShape(a.shape)}`);
    }
    const d = r - k + i;
    offsets[d] = b;
    outShape[d] += b + e;
  }
  const dtype = a.dtype;
  const o = allocBuf(dtype, sizeOf(outShape));
  if (value !== 0) o.fill(value);
  const x = a.data;
  forEachPlacedRow(a.shape, outShape, offsets, (s, d, len) => copyBlock(o, d, x, s, len));
  return record(new Tensor(o, outShape), 'pad', [a], (g) => {
    const gx = allocBuf(dtype, a.size);
    forEachPlacedRow(a.shape, outShape, offsets, (s, d, len) => copyBlock(gx, s, g, d, len));
    return [gx];
  });
}

// ---------- expand / broadcastTo ----------

function expandImpl(op: string, a: Tensor, shape: readonly number[]): Tensor {
  const r = a.rank;
  const n = shape.length;
  const fail = (): never => {
    throw new TensorError(op, `cannot broadcast ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
  };
  if (n < r) fail();
  const outShape = shape.map((d, i) => {
    const src = i >= n - r ? a.shape[i - (n - r)] : undefined;
    if (d === -1) {
      if (src === undefined) fail();
      return src as number;
    }
    if (!Number.isInteger(d) || d < 0) fail();
    if (src !== undefined && src !== d && src !== 1) fail();
    return d;
  });
  const dtype = a.dtype;
  const o = allocBuf(dtype, sizeOf(outShape));
  const x = a.data;
  if (a.size === 1) o.fill(x[0]);
  else if (sameShape(a.shape, outShape)) o.set(x);
  else {
    const zero = new Array<number>(n).fill(0);
    forEachBroadcast(outShape, broadcastStrides(a.shape, outShape), zero, (k, i) => {
      o[k] = x[i];
    });
  }
  return record(new Tensor(o, outShape), op, [a], (g) => [reduceToShape(g, outShape, a.shape, dtype)]);
}

/**
 * Broadcasts to `shape` with NumPy rules (new leading dims, size-1 dims repeated); -1 keeps an
 * existing dim (torch's expand). The result is a copy; the gradient sums over broadcast dims.
 */
export function expand(a: Tensor, shape: readonly number[]): Tensor {
  return expandImpl('expand', a, shape);
}

/** Same as expand (NumPy name). */
export function broadcastTo(a: Tensor, shape: readonly number[]): Tensor {
  return expandImpl('broadcastTo', a, shape);
}
