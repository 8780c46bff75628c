/**
 * Optional fast paths a backend may offer beyond the KernelMap: fused or vectorized float32 helpers
 * that ops use when the active backend registered them (and fall back to their own loops
 * otherwise). Each helper computes exactly what the op's reference loop computes (up to float32
 * rounding of fused multiply-adds, where noted).
 */
import type { Buf, ConvGeom } from '../kernels.js';
import { getBackend, type BackendName } from '../registry.js';

/**
 * Every helper returns fresh arrays (taken straight from the backend's memory, so no separate
 * zero-fill), except that relu, add, relu backward and the batch-norm input gradient write into
 * `out` when given (which may be one of their inputs: element i is read before it is written).
 * Inside `residentScope` a backend may return views into its own memory instead (valid until the
 * scope ends); outside one, never.
 */
export interface FastOps {
  /** x > 0 ? x : 0 (NaN and -0 give +0). */
  relu(x: Float32Array, out?: Float32Array): Float32Array;
  /** y > 0 ? g : 0, with y the relu output (into `out` when given, which may be g). */
  reluBackward(y: Float32Array, g: Float32Array, out?: Float32Array): Float32Array;
  /** a + b, same length. */
  add(a: Float32Array, b: Float32Array, out?: Float32Array): Float32Array;
  /** conv2d(x, w) (the `conv2d` kernel). */
  conv2d(x: Float32Array, w: Float32Array, g: ConvGeom): Float32Array;
  /**
   * Both convolution gradients from one copy of dy: dx = conv2dBackwardInput(dy, w) when wantDx,
   * dw = conv2dBackwardFilter(x, dy) when wantDw (null otherwise).
   */
  conv2dBackward(dy: Float32Array, w: Float32Array, x: Float32Array, wantDx: boolean, wantDw: boolean, g: ConvGeom): [Float32Array | null, Float32Array | null];
  /**
   * Batch-norm forward over x[N, C, HW] with one copy of x: channelMoments(x) → mean, variance;
   * then `coefs()` (which reads mean / variance) returns [scale, shift]; returns
   * channelAffine(x, mean, scale, shift), with a ReLU applied when `relu`.
   */
  batchNormForward(
    x: Float32Array, mean: Float32Array, variance: Float32Array,
    N: number, C: number, HW: number, coefs: () => readonly [Float32Array, Float32Array], relu?: boolean,
  ): Float32Array;
  /**
   * channelAffine(x, mean, scale, shift): (x − mean[c])·scale[c] + shift[c] over x[N, C, HW] (batch
   * norm with given statistics), with a ReLU applied when `relu`.
   */
  channelAffine(x: Float32Array, mean: Float32Array, scale: Float32Array, shift: Float32Array, N: number, C: number, HW: number, relu?: boolean): Float32Array;
  /**
   * Batch-norm backward with one copy of dy and x: channelBackwardSums → sumDy, sumDyXhat; then, when
   * wantDx, `coefs()` returns [k1, k2, k3] and the result is dx = (x − mean)·k2 + k3 + k1·dy (else null),
   * written into `out` when given (which may be dy). With `reluOut` (the output of a fused ReLU) dy is
   * first masked to reluOut > 0 ? dy : 0, and everything above uses the masked dy.
   */
  batchNormBackward(
    dy: Float32Array, x: Float32Array, mean: Float32Array, invstd: Float32Array,
    sumDy: Float32Array, sumDyXhat: Float32Array, N: number, C: number, HW: number,
    wantDx: boolean, coefs: () => readonly [Float32Array, Float32Array, Float32Array], out?: Float32Array,
    reluOut?: Float32Array,
  ): Float32Array | null;
  /** See residentScope() below; backends without their own memory leave it out. */
  residentScope?<T>(fn: () => T): T;
}

const registry = new Map<BackendName, FastOps>();

export function registerFastOps(backend: BackendName, ops: FastOps): void {
  registry.set(backend, ops);
}

/** The fast paths of the active backend, if it has any. */
export function fastOps(): FastOps | undefined {
  return registry.size === 0 ? undefined : registry.get(getBackend());
}

/** True when every buffer is float32 (the only dtype non-`ts` kernels and fast paths handle). */
export function allFloat32(...bufs: Buf[]): boolean {
  for (const b of bufs) if (!(b instanceof Float32Array)) return false;
  return true;
}

/** Below this many elements plain JS loops (or plain kernel calls) beat a call into the fast paths. */
export const FAST_MIN = 2048;

/** The active backend's fast paths when every buffer is float32 and n is large enough to pay off. */
export function fastFor(n: number, ...bufs: Buf[]): FastOps | undefined {
  return n >= FAST_MIN && allFloat32(...bufs) ? fastOps() : undefined;
}

/**
 * Runs fn letting the active backend keep the large arrays its fast paths produce in its own memory
 * (the wasm backend: no copy out of one op and back into the next), all reclaimed when fn returns
 * or throws. Nothing created inside may be used afterwards: copy what you keep (a result that is
 * such an array, or holds one as `.data`, throws). A training step (forward, backward, optimizer
 * update) is the intended unit; without such a backend this just calls fn.
 */
export function residentScope<T>(fn: () => T): T {
  const scope = fastOps()?.residentScope;
  return scope === undefined ? fn() : scope(fn);
}
