/**
 * The statistics a study reports (issue #16): mean, sample std, and percentile-bootstrap confidence
 * intervals of a mean, both over independent pairs and over clusters (held-out models, whose seeds
 * are not independent of each other). Deterministic: the resampling uses a seeded generator, and
 * when every resample can be enumerated (n^n ≤ resamples) the exact bootstrap distribution is used.
 */
import { Rng } from '../data/prng.js';
import { ValueError } from '../errors.js';

export interface MeanStd {
  mean: number;
  std: number;
  n: number;
}

export function meanStd(xs: readonly number[]): MeanStd {
  const n = xs.length;
  const mean = n === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / n;
  const v = n > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(v), n };
}

export interface BootstrapOptions {
  /** Random resamples (default 10 000); fewer than n^n means the exact distribution is enumerated instead. */
  resamples?: number;
  /** Two-sided coverage (default 0.95). */
  confidence?: number;
  seed?: number;
}

export interface Interval {
  lo: number;
  hi: number;
}

/** The q-quantile of equally likely values: the smallest value whose share of values at or below it reaches q. */
function quantile(values: Float64Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  // relative tolerance: q · count is not exact in floating point (e.g. 0.975 · 27)
  const k = Math.max(0, Math.ceil(q * sorted.length * (1 - 1e-12)) - 1);
  return sorted[Math.min(k, sorted.length - 1)];
}

/** Means of every resample of `groups` (each a list of values kept together), all equally likely. */
function resampleMeans(groups: readonly (readonly number[])[], o: Required<BootstrapOptions>): Float64Array {
  const n = groups.length;
  const sums = groups.map((g) => g.reduce((s, x) => s + x, 0));
  const sizes = groups.map((g) => g.length);
  const exact = n ** n <= o.resamples;
  const count = exact ? n ** n : o.resamples;
  const means = new Float64Array(count);
  const rng = new Rng(o.seed);
  const pick = new Int32Array(n);
  for (let r = 0; r < count; r++) {
    if (exact) {
      for (let k = 0, v = r; k < n; k++, v = Math.floor(v / n)) pick[k] = v % n;
    } else {
      for (let k = 0; k < n; k++) pick[k] = rng.int(n);
    }
    let s = 0, m = 0;
    for (let k = 0; k < n; k++) {
      s += sums[pick[k]];
      m += sizes[pick[k]];
    }
    means[r] = s / m;
  }
  return means;
}

function withDefaults(o: BootstrapOptions): Required<BootstrapOptions> {
  const c = { resamples: o.resamples ?? 10_000, confidence: o.confidence ?? 0.95, seed: o.seed ?? 0 };
  if (!(c.confidence > 0 && c.confidence < 1)) throw new ValueError(`bootstrap confidence must be in (0, 1), got ${c.confidence}`);
  if (!(Number.isInteger(c.resamples) && c.resamples >= 1)) throw new ValueError(`bootstrap resamples must be a positive integer, got ${c.resamples}`);
  return c;
}

/**
 * Percentile-bootstrap interval of the mean over clusters: each resample draws whole groups with
 * replacement and takes the mean of all their values. With one value per group this is the
 * ordinary bootstrap of a mean.
 */
export function bootstrapGroupsCI(groups: readonly (readonly number[])[], o: BootstrapOptions = {}): Interval {
  if (groups.length === 0 || groups.some((g) => g.length === 0)) return { lo: NaN, hi: NaN };
  const c = withDefaults(o);
  const means = resampleMeans(groups, c);
  const a = (1 - c.confidence) / 2;
  return { lo: quantile(means, a), hi: quantile(means, 1 - a) };
}

/** Percentile-bootstrap interval of the mean of independent values. */
export function bootstrapCI(xs: readonly number[], o: BootstrapOptions = {}): Interval {
  return bootstrapGroupsCI(xs.map((x) => [x]), o);
}
