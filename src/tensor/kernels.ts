/**
 * Kernel signatures shared by every backend. Kernels are plain functions over typed arrays
 * (row-major, contiguous); ops in `ops/` own shapes, autograd and validation, kernels only compute.
 * A backend registers any subset of these; missing ones fall back to the `ts` reference backend.
 */

/** Storage of a tensor. float64 exists for precise gradient checks; backends other than `ts` may handle float32 only. */
export type Buf = Float32Array | Float64Array;

/** Geometry of a 2-D convolution, NCHW input, OIHW weight (I = C / groups). */
export interface ConvGeom {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  OH: number; OW: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  dilationH: number; dilationW: number;
  groups: number;
}

/** Geometry of a 2-D pooling window over NCHW input. */
export interface PoolGeom {
  N: number; C: number; H: number; W: number;
  OH: number; OW: number;
  KH: number; KW: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
}

export interface KernelMap {
  /**
   * C[M,N] = op(A)·op(B) + (accumulate ? C : 0).
   * op(A) is A[M,K] (row-major) or, with transA, A stored as [K,M]; likewise op(B) is B[K,N] or B stored as [N,K].
   */
  matmul(a: Buf, b: Buf, c: Buf, M: number, K: number, N: number, transA: boolean, transB: boolean, accumulate: boolean): void;
  /** out[N,O,OH,OW] = conv(x[N,C,H,W], w[O,C/groups,KH,KW]); no bias. */
  conv2d(x: Buf, w: Buf, out: Buf, g: ConvGeom): void;
  /** dx[N,C,H,W] = conv2d input gradient given dy[N,O,OH,OW]; overwrites dx. */
  conv2dBackwardInput(dy: Buf, w: Buf, dx: Buf, g: ConvGeom): void;
  /** dw[O,C/groups,KH,KW] = conv2d filter gradient; overwrites dw. */
  conv2dBackwardFilter(x: Buf, dy: Buf, dw: Buf, g: ConvGeom): void;
  /** Max pooling; padding counts as -Infinity. argmax holds the flat input index (within its (n,c) plane) of each output. */
  maxPool2d(x: Buf, out: Buf, argmax: Int32Array, g: PoolGeom): void;
  /** dx (zeroed by the kernel) += dy scattered through argmax. */
  maxPool2dBackward(dy: Buf, argmax: Int32Array, dx: Buf, g: PoolGeom): void;
  /** Average pooling, PyTorch count_include_pad=true semantics. */
  avgPool2d(x: Buf, out: Buf, g: PoolGeom): void;
  /** Overwrites dx. */
  avgPool2dBackward(dy: Buf, dx: Buf, g: PoolGeom): void;
  /**
   * Per-channel statistics of x[N,C,HW]: mean[C] and biased variance[C] (divide by N*HW).
   */
  channelMoments(x: Buf, mean: Buf, variance: Buf, N: number, C: number, HW: number): void;
  /** out = (x - mean[c]) * scale[c] + shift[c]  over x[N,C,HW]  (scale = gamma*invstd, shift = beta). */
  channelAffine(x: Buf, mean: Buf, scale: Buf, shift: Buf, out: Buf, N: number, C: number, HW: number): void;
  /** sumDy[c] = Σ dy, sumDyXhat[c] = Σ dy·(x-mean[c])·invstd[c] over x[N,C,HW]. */
  channelBackwardSums(dy: Buf, x: Buf, mean: Buf, invstd: Buf, sumDy: Buf, sumDyXhat: Buf, N: number, C: number, HW: number): void;
}

export type KernelName = keyof KernelMap;
