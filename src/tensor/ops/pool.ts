/**
 * 2-D pooling over NCHW input: max and average pooling on the registry's pooling kernels
 * (PyTorch semantics, ceil_mode either way; average pooling counts padding, count_include_pad=true),
 * and global average pooling [N, C, H, W] → [N, C].
 */
import { Tensor, allocBuf } from '../tensor.js';
import type { PoolGeom } from '../kernels.js';
import { record } from '../autograd.js';
import { kernel } from '../registry.js';
import { TensorError, fmtShape } from '../errors.js';
import { toPair, type Pair } from './conv.js';

export type { Pair } from './conv.js';

export interface Pool2dOptions {
  /** Window size. */
  kernel: Pair;
  /** Default: the window size. */
  stride?: Pair;
  /** Implicit padding on each side (at most half the window, as in PyTorch); default 0. */
  padding?: Pair;
  /** PyTorch's ceil_mode: round the output size up, as long as the last window starts inside the (left-padded) input. */
  ceil?: boolean;
}

/** Output size of one pooled dim (PyTorch's pooling_output_shape). */
export function poolOutSize(size: number, k: number, stride: number, pad: number, ceil = false): number {
  const span = size + 2 * pad - k;
  let out = Math.floor((ceil ? span + stride - 1 : span) / stride) + 1;
  if (ceil && (out - 1) * stride >= size + pad) out--;
  return out;
}

/**
 * Validates a pooling call and returns its geometry.
 * Output size per dim: floor((H + 2·pad − K) / stride) + 1 (ceil mode: see poolOutSize); windows
 * past the padded input are clipped, and average pooling then divides by the clipped window.
 */
export function pool2dGeom(op: string, xShape: readonly number[], opts: Pool2dOptions): PoolGeom {
  if (xShape.length !== 4) throw new TensorError(op, `input must be [N, C, H, W], got shape ${fmtShape(xShape)}`);
  const [KH, KW] = toPair(op, 'kernel', opts.kernel, 1);
  const [strideH, strideW] = toPair(op, 'stride', opts.stride ?? opts.kernel, 1);
  const [padH, padW] = toPair(op, 'padding', opts.padding ?? 0, 0);
  if (2 * padH > KH || 2 * padW > KW) {
    throw new TensorError(op, `padding [${padH}, ${padW}] must be at most half of the kernel [${KH}, ${KW}]`);
  }
  const [N, C, H, W] = xShape;
  const OH = poolOutSize(H, KH, strideH, padH, opts.ceil);
  const OW = poolOutSize(W, KW, strideW, padW, opts.ceil);
  if (OH < 1 || OW < 1) {
    throw new TensorError(op, `padded input ${H + 2 * padH}x${W + 2 * padW} of input ${fmtShape(xShape)} is smaller than the kernel ${KH}x${KW}`);
  }
  return { N, C, H, W, OH, OW, KH, KW, strideH, strideW, padH, padW };
}

/** Max pooling; padded positions never win. The gradient goes to the (first) maximal element of each window. */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const g = pool2dGeom('maxPool2d', x.shape, opts);
  const n = g.N * g.C * g.OH * g.OW;
  const out = new Tensor(allocBuf(x.dtype, n), [g.N, g.C, g.OH, g.OW]);
  const argmax = new Int32Array(n);
  kernel('maxPool2d')(x.data, out.data, argmax, g);
  return record(out, 'maxPool2d', [x], (dy) => {
    const dx = allocBuf(x.dtype, x.size);
    kernel('maxPool2dBackward')(dy, argmax, dx, g);
    return [dx];
  });
}

/** Average pooling; zero padding is counted in the divisor (PyTorch count_include_pad=true). */
export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const g = pool2dGeom('avgPool2d', x.shape, opts);
  const out = new Tensor(allocBuf(x.dtype, g.N * g.C * g.OH * g.OW), [g.N, g.C, g.OH, g.OW]);
  kernel('avgPool2d')(x.data, out.data, g);
  return record(out, 'avgPool2d', [x], (dy) => {
    const dx = allocBuf(x.dtype, x.size);
    kernel('avgPool2dBackward')(dy, dx, g);
    return [dx];
  });
}

/** Mean over the spatial dims: x[N, C, H, W] → [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  if (x.rank !== 4) throw new TensorError('globalAvgPool', `input must be [N, C, H, W], got shape ${fmtShape(x.shape)}`);
  const [N, C, H, W] = x.shape;
  const HW = H * W;
  if (HW === 0) throw new TensorError('globalAvgPool', `input ${fmtShape(x.shape)} has no spatial elements`);
  const P = N * C;
  const out = allocBuf(x.dtype, P);
  const xd = x.data;
  const inv = 1 / HW;
  for (let p = 0; p < P; p++) {
    const o = p * HW;
    let s = 0;
    for (let i = 0; i < HW; i++) s += xd[o + i];
    out[p] = s / HW;
  }
  return record(new Tensor(out, [N, C]), 'globalAvgPool', [x], (dy) => {
    const dx = allocBuf(x.dtype, x.size);
    for (let p = 0; p < P; p++) {
      const v = dy[p] * inv;
      dx.fill(v, p * HW, (p + 1) * HW);
    }
    return [dx];
  });
}
