/**
 * Constant folding of the small integer tensors that shape computations produce. A dynamic-batch
 * export computes Reshape targets at run time (Shape → Gather → Unsqueeze → Concat, with Div/Mul on
 * the channel count); the importer knows the static C×H×W, so these fold to constants. The one
 * unknown, the batch size, is carried as the BATCH_DIM marker: it may be moved around (gathered,
 * concatenated) but any arithmetic on it is refused, so a folded shape is either exact or an error.
 */
import { MetapruneError } from '../../errors.js';

/** Stands for the dynamic batch size inside a folded shape tensor (Reshape reads it as "keep the batch"). */
export const BATCH_DIM = -987_654_321;

export interface IntTensor {
  dims: number[];
  data: number[];
}

export class FoldError extends MetapruneError {
  constructor(message: string) {
    super('onnx', message);
    this.name = 'FoldError';
  }
}

const numel = (d: readonly number[]) => d.reduce((p, x) => p * x, 1);

function axisOf(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new FoldError(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Strides of a row-major tensor. */
function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** ONNX Shape(start, end) of a tensor of shape [batch, ...perSample]. */
export function shapeOf(perSample: readonly number[], start = 0, end?: number): IntTensor {
  const full = [BATCH_DIM, ...perSample];
  const r = full.length;
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const data = full.slice(clamp(start), end === undefined ? r : clamp(end));
  return { dims: [data.length], data };
}

export function gather(t: IntTensor, idx: IntTensor, axis: number): IntTensor {
  const a = axisOf(axis, t.dims.length, 'Gather axis');
  const n = t.dims[a];
  const outer = numel(t.dims.slice(0, a)), inner = numel(t.dims.slice(a + 1));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const i0 of idx.data) {
      const i = i0 < 0 ? i0 + n : i0;
      if (i < 0 || i >= n) throw new FoldError(`Gather index ${i0} is out of range for ${n} entries`);
      for (let k = 0; k < inner; k++) data.push(t.data[(o * n + i) * inner + k]);
    }
  }
  return { dims: [...t.dims.slice(0, a), ...idx.dims, ...t.dims.slice(a + 1)], data };
}

export function unsqueeze(t: IntTensor, axes: readonly number[]): IntTensor {
  const r = t.dims.length + axes.length;
  const norm = axes.map((x) => axisOf(x, r, 'Unsqueeze axis')).sort((x, y) => x - y);
  const dims = [...t.dims];
  for (const x of norm) dims.splice(x, 0, 1);
  return { dims, data: [...t.data] };
}

export function squeeze(t: IntTensor, axes: readonly number[] | undefined): IntTensor {
  const r = t.dims.length;
  const drop = new Set(axes === undefined ? t.dims.flatMap((d, i) => (d === 1 ? [i] : [])) : axes.map((x) => axisOf(x, r, 'Squeeze axis')));
  for (const x of drop) if (t.dims[x] !== 1) throw new FoldError(`Squeeze axis ${x} has size ${t.dims[x]}, not 1`);
  return { dims: t.dims.filter((_, i) => !drop.has(i)), data: [...t.data] };
}

export function concat(ts: readonly IntTensor[], axis: number): IntTensor {
  const r = ts[0].dims.length;
  const a = axisOf(axis, r, 'Concat axis');
  for (const t of ts) {
    if (t.dims.length !== r || t.dims.some((d, i) => i !== a && d !== ts[0].dims[i])) throw new FoldError(`Concat inputs [${ts.map((x) => x.dims.join('×')).join('], [')}] differ outside axis ${axis}`);
  }
  const outer = numel(ts[0].dims.slice(0, a));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const block = numel(t.dims.slice(a));
      data.push(...t.data.slice(o * block, (o + 1) * block));
    }
  }
  const dims = [...ts[0].dims];
  dims[a] = ts.reduce((s, t) => s + t.dims[a], 0);
  return { dims, data };
}

/** ONNX Slice on one or more axes (steps ±k; ends clamped as the spec says). */
export function slice(t: IntTensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): IntTensor {
  const r = t.dims.length;
  const ax = (axes ?? starts.map((_, i) => i)).map((x) => axisOf(x, r, 'Slice axis'));
  const ranges = t.dims.map((d) => ({ start: 0, step: 1, count: d }));
  ax.forEach((a, i) => {
    const d = t.dims[a];
    const step = steps?.[i] ?? 1;
    if (step === 0) throw new FoldError('Slice step 0');
    const norm = (v: number) => (v < 0 ? v + d : v);
    let s = norm(starts[i]), e = norm(ends[i]);
    if (step > 0) {
      s = Math.min(d, Math.max(0, s));
      e = Math.min(d, Math.max(0, e));
    } else {
      s = Math.min(d - 1, Math.max(-1, s));
      e = Math.min(d - 1, Math.max(-1, e));
    }
    ranges[a] = { start: s, step, count: Math.max(0, Math.ceil((e - s) / step)) };
  });
  const st = strides(t.dims);
  const dims = ranges.map((x) => x.count);
  const data: number[] = [];
  const idx = new Array<number>(r).fill(0);
  for (let k = 0; k < numel(dims); k++) {
    let rem = k, off = 0;
    for (let j = r - 1; j >= 0; j--) {
      idx[j] = rem % dims[j];
      rem = Math.floor(rem / dims[j]);
      off += (ranges[j].start + idx[j] * ranges[j].step) * st[j];
    }
    data.push(t.data[off]);
  }
  return { dims, data };
}

/** Elementwise integer arithmetic with NumPy broadcasting; refuses to compute with the batch marker. */
export function arith(op: 'Add' | 'Sub' | 'Mul' | 'Div', a: IntTensor, b: IntTensor): IntTensor {
  const r = Math.max(a.dims.length, b.dims.length);
  const pa = [...new Array<number>(r - a.dims.length).fill(1), ...a.dims];
  const pb = [...new Array<number>(r - b.dims.length).fill(1), ...b.dims];
  const dims = pa.map((d, i) => {
    if (d !== pb[i] && d !== 1 && pb[i] !== 1) throw new FoldError(`${op} of shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] does not broadcast`);
    return Math.max(d, pb[i]);
  });
  const sa = strides(pa), sb = strides(pb);
  const data: number[] = [];
  for (let k = 0; k < numel(dims); k++) {
    let rem = k, ia = 0, ib = 0;
    for (let j = r - 1; j >= 0; j--) {
      const i = rem % dims[j];
      rem = Math.floor(rem / dims[j]);
      if (pa[j] !== 1) ia += i * sa[j];
      if (pb[j] !== 1) ib += i * sb[j];
    }
    const x = a.data[ia], y = b.data[ib];
    if (x === BATCH_DIM || y === BATCH_DIM) throw new FoldError(`${op} computes with the dynamic batch size; only the static C×H×W dimensions can be folded`);
    if (op === 'Div' && y === 0) throw new FoldError('integer division by zero');
    data.push(op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : Math.trunc(x / y));
  }
  return { dims, data };
}
