/**
 * Finite-difference gradient checking. f is reduced to a scalar by a fixed random projection, so
 * every output element's Jacobian row is exercised; run it in float64 for tight tolerances.
 */
import { Tensor, allocBuf } from './tensor.js';
import { backward, noGrad } from './autograd.js';
import { Rng } from './random.js';

export interface GradCheckResult {
  /** Largest |analytic - numeric| / max(1, |numeric|) over all checked elements. */
  maxError: number;
  /** Where that happened: input index and flat element index. */
  worst: { input: number; index: number; analytic: number; numeric: number };
  checked: number;
}

export interface GradCheckOptions {
  eps?: number;
  seed?: number;
  /** Check at most this many elements per input (chosen at random); all by default. */
  maxPerInput?: number;
  /** Indices of inputs to differentiate; all by default. */
  wrt?: readonly number[];
}

export function gradCheck(f: (inputs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts: GradCheckOptions = {}): GradCheckResult {
  const eps = opts.eps ?? 1e-6;
  const rng = new Rng(opts.seed ?? 1234);
  const wrt = opts.wrt ?? inputs.map((_, i) => i);
  const leaves = inputs.map((t, i) => {
    const l = t.clone();
    l.requiresGrad = wrt.includes(i);
    return l;
  });
  const out = f(leaves);
  const proj = allocBuf(out.dtype, out.size);
  for (let i = 0; i < proj.length; i++) proj[i] = rng.uniform(-1, 1);
  const analytic = backward([out], [proj], leaves);
  const evalProj = (): number =>
    noGrad(() => {
      const o = f(leaves);
      let s = 0;
      for (let i = 0; i < o.size; i++) s += o.data[i] * proj[i];
      return s;
    });
  const res: GradCheckResult = { maxError: 0, worst: { input: -1, index: -1, analytic: 0, numeric: 0 }, checked: 0 };
  for (const i of wrt) {
    const data = leaves[i].data;
    let idx = [...Array(data.length).keys()];
    if (opts.maxPerInput !== undefined && idx.length > opts.maxPerInput) {
      rng.shuffle(idx);
      idx = idx.slice(0, opts.maxPerInput);
    }
    for (const k of idx) {
      const orig = data[k];
      data[k] = orig + eps;
      const fp = evalProj();
      data[k] = orig - eps;
      const fm = evalProj();
      data[k] = orig;
      const numeric = (fp - fm) / (2 * eps);
      const a = analytic[i][k];
      const err = Math.abs(a - numeric) / Math.max(1, Math.abs(numeric));
      res.checked++;
      if (!(err <= res.maxError)) {
        res.maxError = Number.isNaN(err) ? Infinity : Math.max(res.maxError, err);
        res.worst = { input: i, index: k, analytic: a, numeric };
      }
    }
  }
  return res;
}

/** Convenience for tests: a float64 random tensor. */
export function randomTensor(shape: readonly number[], rng: Rng, lo = -1, hi = 1): Tensor {
  const b = allocBuf('float64', shape.reduce((p, d) => p * d, 1));
  for (let i = 0; i < b.length; i++) b[i] = rng.uniform(lo, hi);
  return new Tensor(b, shape);
}
