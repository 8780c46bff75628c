/**
 * softmax / logSoftmax along an axis (max-shifted, so huge logits stay finite), and the
 * classification losses built on them: crossEntropy with a fused backward (softmax − one-hot),
 * nllLoss, and accuracy (no grad).
 */
import { Tensor, allocBuf } from '../tensor.js';
import type { Buf } from '../kernels.js';
import { record } from '../autograd.js';
import { TensorError, fmtShape } from '../errors.js';
import { checkRank } from './util.js';
import { axisOf, axisView } from './shape.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  /** 'mean' (default) averages over the batch, 'sum' adds, 'none' returns the per-sample losses [N]. */
  reduction?: Reduction;
}

/** Class labels: an Int32Array (or a plain array of integers) of length N. */
export type Labels = Int32Array | readonly number[];

/** Softmax along `axis` (default last). */
export function softmax(a: Tensor, axis = -1): Tensor {
  const ax = axisOf('softmax', axis, a.shape);
  const { outer, n, inner } = axisView(a.shape, ax);
  const dtype = a.dtype;
  const x = a.data;
  const y = allocBuf(dtype, a.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const end = base + n * inner;
      let m = -Infinity;
      for (let p = base; p < end; p += inner) if (x[p] > m) m = x[p];
      let s = 0;
      for (let p = base; p < end; p += inner) {
        const e = Math.exp(x[p] - m);
        y[p] = e;
        s += e;
      }
      const inv = 1 / s;
      for (let p = base; p < end; p += inner) y[p] *= inv;
    }
  }
  return record(new Tensor(y, a.shape), 'softmax', [a], (g) => {
    // dx = y ⊙ (g − ⟨g, y⟩) along the axis
    const gx = allocBuf(dtype, a.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        const end = base + n * inner;
        let dot = 0;
        for (let p = base; p < end; p += inner) dot += g[p] * y[p];
        for (let p = base; p < end; p += inner) gx[p] = y[p] * (g[p] - dot);
      }
    }
    return [gx];
  });
}

/** log(softmax(a)) along `axis`, computed as x − max − log Σ exp(x − max). */
export function logSoftmax(a: Tensor, axis = -1): Tensor {
  const ax = axisOf('logSoftmax', axis, a.shape);
  const { outer, n, inner } = axisView(a.shape, ax);
  const dtype = a.dtype;
  const x = a.data;
  const y = allocBuf(dtype, a.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const end = base + n * inner;
      let m = -Infinity;
      for (let p = base; p < end; p += inner) if (x[p] > m) m = x[p];
      let s = 0;
      for (let p = base; p < end; p += inner) s += Math.exp(x[p] - m);
      const lse = m + Math.log(s);
      for (let p = base; p < end; p += inner) y[p] = x[p] - lse;
    }
  }
  return record(new Tensor(y, a.shape), 'logSoftmax', [a], (g) => {
    // dx = g − softmax ⊙ Σ g along the axis
    const gx = allocBuf(dtype, a.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        const end = base + n * inner;
        let s = 0;
        for (let p = base; p < end; p += inner) s += g[p];
        for (let p = base; p < end; p += inner) gx[p] = g[p] - Math.exp(y[p]) * s;
      }
    }
    return [gx];
  });
}

/** Validates [N, C] scores and N labels in [0, C); returns the labels as an Int32Array copy. */
function checkLabels(op: string, scores: Tensor, labels: Labels, what = 'logits'): Int32Array {
  checkRank(op, scores, 2, what);
  const [N, C] = scores.shape;
  if (labels.length !== N) {
    throw new TensorError(op, `${labels.length} labels for ${what} ${fmtShape(scores.shape)} (expected ${N})`);
  }
  const out = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= C) {
      throw new TensorError(op, `label ${y} (sample ${i}) out of range for ${C} classes (${what} ${fmtShape(scores.shape)})`);
    }
    out[i] = y;
  }
  return out;
}

function reductionOf(op: string, o: LossOptions): Reduction {
  const r = o.reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new TensorError(op, `unknown reduction '${String(r)}'`);
  return r;
}

/** Reduces per-sample losses; returns the output tensor and the per-sample gradient scale getter. */
function reduceLoss(losses: Buf, reduction: Reduction, dtype: Tensor['dtype']): { out: Tensor; scaleOf: (g: Buf, i: number) => number } {
  const N = losses.length;
  if (reduction === 'none') return { out: new Tensor(losses, [N]), scaleOf: (g, i) => g[i] };
  let s = 0;
  for (let i = 0; i < N; i++) s += losses[i];
  const v = allocBuf(dtype, 1);
  const k = reduction === 'mean' ? 1 / N : 1;
  v[0] = s * k;
  return { out: new Tensor(v, []), scaleOf: (g) => g[0] * k };
}

/**
 * Cross-entropy of logits[N, C] against integer labels: mean/sum/per-sample of
 * logsumexp(x_i) − x_i[y_i]. The backward is fused: (softmax(x_i) − onehot(y_i))·dL_i.
 * A 'mean' over an empty batch is NaN (as in PyTorch).
 */
export function crossEntropy(logits: Tensor, labels: Labels, opts: LossOptions = {}): Tensor {
  const reduction = reductionOf('crossEntropy', opts);
  const y = checkLabels('crossEntropy', logits, labels);
  const [N, C] = logits.shape;
  const dtype = logits.dtype;
  const x = logits.data;
  const lse = new Float64Array(N);
  const losses = allocBuf(dtype, N);
  for (let i = 0; i < N; i++) {
    const base = i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (x[base + c] > m) m = x[base + c];
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[base + c] - m);
    const l = m + Math.log(s);
    lse[i] = l;
    losses[i] = l - x[base + y[i]];
  }
  const { out, scaleOf } = reduceLoss(losses, reduction, dtype);
  return record(out, 'crossEntropy', [logits], (g) => {
    const gx = allocBuf(dtype, logits.size);
    for (let i = 0; i < N; i++) {
      const k = scaleOf(g, i);
      const base = i * C;
      const l = lse[i];
      for (let c = 0; c < C; c++) gx[base + c] = Math.exp(x[base + c] - l) * k;
      gx[base + y[i]] -= k;
    }
    return [gx];
  });
}

/** Negative log-likelihood of log-probabilities[N, C]: −logProbs[i, y_i], reduced like crossEntropy. */
export function nllLoss(logProbs: Tensor, labels: Labels, opts: LossOptions = {}): Tensor {
  const reduction = reductionOf('nllLoss', opts);
  const y = checkLabels('nllLoss', logProbs, labels, 'logProbs');
  const [N, C] = logProbs.shape;
  const dtype = logProbs.dtype;
  const x = logProbs.data;
  const losses = allocBuf(dtype, N);
  for (let i = 0; i < N; i++) losses[i] = -x[i * C + y[i]];
  const { out, scaleOf } = reduceLoss(losses, reduction, dtype);
  return record(out, 'nllLoss', [logProbs], (g) => {
    const gx = allocBuf(dtype, logProbs.size);
    for (let i = 0; i < N; i++) gx[i * C + y[i]] = -scaleOf(g, i);
    return [gx];
  });
}

/** Fraction of rows of logits[N, C] whose arg-max (first on ties) equals the label; 0 for N = 0. */
export function accuracy(logits: Tensor, labels: Labels): number {
  const y = checkLabels('accuracy', logits, labels);
  const [N, C] = logits.shape;
  if (N === 0) return 0;
  const x = logits.data;
  let correct = 0;
  for (let i = 0; i < N; i++) {
    const base = i * C;
    let best = 0;
    for (let c = 1; c < C; c++) if (x[base + c] > x[base + best]) best = c;
    if (best === y[i]) correct++;
  }
  return correct / N;
}
