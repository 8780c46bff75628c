/**
 * Small seeded PRNG for the data layer (shuffles, splits, augmentation). Never uses Math.random:
 * every random choice is a pure function of the seed.
 *
 * The generator is mulberry32 (32-bit state, period 2^32); seeds are first scrambled with a
 * splitmix32-style finalizer so that nearby seeds (0, 1, 2, ...) give unrelated streams.
 */
import { ValueError } from '../errors.js';

/** splitmix32-style integer hash (bijective on uint32). */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Folds a seed and any number of stream tags (epoch, purpose, ...) into one uint32 seed. */
export function deriveSeed(seed: number, ...tags: number[]): number {
  let s = mix32(toUint32(seed));
  for (const t of tags) s = mix32((s ^ mix32(toUint32(t))) >>> 0);
  return s;
}

function toUint32(seed: number): number {
  if (!Number.isFinite(seed)) throw new ValueError(`seed must be a finite number, got ${seed}`);
  // Keep the high bits of large integer seeds instead of silently dropping them.
  const lo = seed >>> 0;
  const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
  return (lo ^ Math.imul(hi, 0x27d4eb2d)) >>> 0;
}

/** Seeded random stream (mulberry32). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = deriveSeed(seed);
  }

  /** Next uniformly distributed uint32. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n), n ≥ 1, without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new ValueError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Fair coin. */
  bool(): boolean {
    return (this.nextUint32() & 0x80000000) !== 0;
  }
}

/** Seeded random permutation of 0..n-1 (Fisher–Yates). */
export function permutation(n: number, seed: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}
