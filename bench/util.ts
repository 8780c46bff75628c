/** Small helpers shared by the benchmark scripts. */
import { Rng } from '../src/tensor/random.js';

/** A uniform [0, 1) stream from the engine's seeded generator. */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** n values uniform in [-1, 1). */
export function randF32(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

/** Best wall time (ms) of fn over at least minReps calls and about budgetMs, after one warm-up call. */
export function bestTime(fn: () => void, budgetMs: number, minReps = 2): number {
  fn();
  let b = Infinity;
  const start = performance.now();
  for (let r = 0; r < 1000; r++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
    if (r + 1 >= minReps && performance.now() - start > budgetMs) break;
  }
  return b;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
