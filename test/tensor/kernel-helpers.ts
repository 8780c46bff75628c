/**
 * Helpers shared by the kernel tests (ts reference, wasm, threads, native): seeded random arrays,
 * the norm-relative error max|a-b| / max(1, max|b|), bitwise comparison and conv geometry.
 */
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import type { ConvGeom } from '../../src/tensor/kernels.js';

/** A uniform [0, 1) stream from the engine's seeded generator. */
export function prng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** n values uniform in [offset - scale, offset + scale). */
export function randArray<T extends Float32Array | Float64Array>(
  T: { new (n: number): T }, n: number, rnd: () => number, scale = 1, offset = 0,
): T {
  const a = new T(n);
  for (let i = 0; i < n; i++) a[i] = (rnd() * 2 - 1) * scale + offset;
  return a;
}

export function randF32(n: number, rnd: () => number, scale = 1, offset = 0): Float32Array {
  return randArray(Float32Array, n, rnd, scale, offset);
}

/**
 * max|a-b| / max(floor, max|b|); NaN must match NaN, equal infinities count as equal. The default
 * floor 1 makes it an absolute error for small outputs; a tiny floor makes it purely relative.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
    if (Number.isNaN(x)) continue;
    if (x !== y) d = Math.max(d, Math.abs(x - y));
    m = Math.max(m, Math.abs(y));
  }
  return d / Math.max(floor, m);
}

export function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-5): void {
  const e = relErr(a, b);
  assert.ok(e <= tol, `${what}: rel err ${e} > ${tol}`);
}

/** Fails unless a and b hold the same bits, naming how many elements differ and the first one. */
export function sameBits(a: Float32Array | Int32Array, b: Float32Array | Int32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (Buffer.compare(x, y) === 0) return;
  let n = 0, first = -1, maxd = 0;
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i])) continue;
    n++;
    if (first < 0) first = i;
    maxd = Math.max(maxd, Math.abs(a[i]! - b[i]!));
  }
  assert.fail(`${what}: results differ bitwise (${n} of ${a.length} elements, max |diff| ${maxd}, first at ${first}: ${a[first]} vs ${b[first]})`);
}

/** Conv geometry with output size computed from the options (stride / pad / dilation default 1 / 0 / 1). */
export function convGeom(p: {
  N: number; C: number; H: number; W: number; O: number; KH: number; KW: number;
  sH?: number; sW?: number; pH?: number; pW?: number; dH?: number; dW?: number; groups?: number;
}): ConvGeom {
  const strideH = p.sH ?? 1, strideW = p.sW ?? 1, padH = p.pH ?? 0, padW = p.pW ?? 0;
  const dilationH = p.dH ?? 1, dilationW = p.dW ?? 1;
  const OH = Math.floor((p.H + 2 * padH - dilationH * (p.KH - 1) - 1) / strideH) + 1;
  const OW = Math.floor((p.W + 2 * padW - dilationW * (p.KW - 1) - 1) / strideW) + 1;
  return {
    N: p.N, C: p.C, H: p.H, W: p.W, O: p.O, KH: p.KH, KW: p.KW, OH, OW,
    strideH, strideW, padH, padW, dilationH, dilationW, groups: p.groups ?? 1,
  };
}
