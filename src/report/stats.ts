/**
 * Summary statistics the report draws as whiskers: mean, sample standard deviation (meta/stats.ts,
 * the one home of the project's statistics) and the Student-t 95 % confidence interval of the mean.
 * NaN entries are ignored.
 */
import { meanStd } from '../meta/stats.js';

/** Two-sided 95 % Student-t quantiles t(0.975, df) for df = 1..30. */
const T975: readonly number[] = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t(0.975, df); beyond the table 1.96 + 2.4/df (within 0.002 of the exact value). */
export function t975(df: number): number {
  if (!(df >= 1)) return NaN;
  const d = Math.floor(df);
  return d <= T975.length ? (T975[d - 1] as number) : 1.96 + 2.4 / d;
}

export interface MeanSummary {
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1); 0 for n = 1, NaN for n = 0. */
  readonly sd: number;
  /** 95 % confidence interval of the mean; NaN bounds when n < 2. */
  readonly lo: number;
  readonly hi: number;
}

export function summarizeMean(values: ReadonlyArray<number>): MeanSummary {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, sd: NaN, lo: NaN, hi: NaN };
  const { mean, std: sd } = meanStd(xs);
  const half = n > 1 ? (t975(n - 1) * sd) / Math.sqrt(n) : NaN;
  return { n, mean, sd, lo: mean - half, hi: mean + half };
}
