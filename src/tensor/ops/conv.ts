/**
 * 2-D convolution (NCHW input, OIHW weight, cross-correlation like PyTorch's F.conv2d) on the
 * registry's `conv2d` / `conv2dBackwardInput` / `conv2dBackwardFilter` kernels.
 */
import { Tensor, allocBuf } from '../tensor.js';
import type { Buf, ConvGeom } from '../kernels.js';
import { freshGrad, record } from '../autograd.js';
import { kernel } from '../registry.js';
import { TensorError, fmtShape } from '../errors.js';
import { checkDtypes } from './util.js';
import { fastOps } from '../backends/fast.js';

/** A spatial size given once for both dims, or as [height, width]. */
export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  /** Default 1. */
  stride?: Pair;
  /** Zero padding on each side; default 0. */
  padding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Input and output channels are split into `groups` independent blocks; default 1. */
  groups?: number;
}

/** Normalizes a Pair to [h, w], checking that both are integers ≥ min. */
export function toPair(op: string, name: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || !p.every((d) => Number.isInteger(d) && d >= min)) {
    const what = min === 0 ? 'non-negative' : min === 1 ? 'positive' : `≥ ${min}`;
    throw new TensorError(op, `${name} must be a ${what} integer or an [h, w] pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

/**
 * Validates the shapes and options of conv2d(x, w) and returns the kernel geometry.
 * Output size per dim: floor((H + 2·pad − dilation·(K − 1) − 1) / stride) + 1.
 */
export function conv2dGeom(xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): ConvGeom {
  const op = 'conv2d';
  if (xShape.length !== 4) throw new TensorError(op, `input must be [N, C, H, W], got shape ${fmtShape(xShape)}`);
  if (wShape.length !== 4) throw new TensorError(op, `weight must be [O, C/groups, KH, KW], got shape ${fmtShape(wShape)}`);
  const [strideH, strideW] = toPair(op, 'stride', opts.stride ?? 1, 1);
  const [padH, padW] = toPair(op, 'padding', opts.padding ?? 0, 0);
  const [dilationH, dilationW] = toPair(op, 'dilation', opts.dilation ?? 1, 1);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new TensorError(op, `groups must be a positive integer, got ${groups}`);
  const [N, C, H, W] = xShape;
  const [O, Cg, KH, KW] = wShape;
  if (C % groups !== 0) {
    throw new TensorError(op, `input channels ${C} of input ${fmtShape(xShape)} are not divisible by groups=${groups}`);
  }
  if (O % groups !== 0) {
    throw new TensorError(op, `output channels ${O} of weight ${fmtShape(wShape)} are not divisible by groups=${groups}`);
  }
  if (Cg * groups !== C) {
    throw new TensorError(op, `weight ${fmtShape(wShape)} with groups=${groups} expects input with ${Cg * groups} channels, ` +
      `got input ${fmtShape(xShape)} with ${C} channels`);
  }
  if (KH < 1 || KW < 1) throw new TensorError(op, `weight ${fmtShape(wShape)} has an empty kernel`);
  const effH = dilationH * (KH - 1) + 1, effW = dilationW * (KW - 1) + 1;
  const OH = Math.floor((H + 2 * padH - effH) / strideH) + 1;
  const OW = Math.floor((W + 2 * padW - effW) / strideW) + 1;
  if (OH < 1 || OW < 1) {
    throw new TensorError(op, `padded input ${H + 2 * padH}x${W + 2 * padW} of input ${fmtShape(xShape)} is smaller than ` +
      `the (dilated) kernel ${effH}x${effW} of weight ${fmtShape(wShape)}`);
  }
  return { N, C, H, W, O, KH, KW, OH, OW, strideH, strideW, padH, padW, dilationH, dilationW, groups };
}

/**
 * y[N, O, OH, OW] = conv2d(x[N, C, H, W], w[O, C/groups, KH, KW]) + bias[O].
 * Differentiable in x, w and bias.
 */
export function conv2d(x: Tensor, w: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const dtype = checkDtypes('conv2d', x, w, ...(bias ? [bias] : []));
  const g = conv2dGeom(x.shape, w.shape, opts);
  const { N, O, OH, OW } = g;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== O)) {
    throw new TensorError('conv2d', `bias must be [${O}] for weight ${fmtShape(w.shape)}, got ${fmtShape(bias.shape)}`);
  }
  const OHW = OH * OW;
  const f = dtype === 'float32' ? fastOps() : undefined;
  let out: Tensor;
  if (f) {
    out = new Tensor(f.conv2d(x.data as Float32Array, w.data as Float32Array, g), [N, O, OH, OW]);
  } else {
    out = new Tensor(allocBuf(dtype, N * O * OHW), [N, O, OH, OW]);
    kernel('conv2d')(x.data, w.data, out.data, g);
  }
  if (bias) {
    const y = out.data, b = bias.data;
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        const bo = b[o];
        const off = (n * O + o) * OHW;
        for (let i = 0; i < OHW; i++) y[off + i] += bo;
      }
    }
  }
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(out, 'conv2d', inputs, (dy) => {
    let gx: Buf | null = null, gw: Buf | null = null, gb: Buf | null = null;
    const fb = dtype === 'float32' && dy instanceof Float32Array ? fastOps() : undefined;
    if (fb && (x.requiresGrad || w.requiresGrad)) {
      // the same two kernels, sharing one copy of dy in the backend
      [gx, gw] = fb.conv2dBackward(dy as Float32Array, w.data as Float32Array, x.data as Float32Array, x.requiresGrad, w.requiresGrad, g);
    } else {
      if (x.requiresGrad) {
        gx = allocBuf(dtype, x.size);
        kernel('conv2dBackwardInput')(dy, w.data, gx, g);
      }
      if (w.requiresGrad) {
        gw = allocBuf(dtype, w.size);
        kernel('conv2dBackwardFilter')(x.data, dy, gw, g);
      }
    }
    // both are allocated for this call and referenced nowhere else
    if (gx !== null) freshGrad(gx);
    if (gw !== null) freshGrad(gw);
    if (bias && bias.requiresGrad) {
      gb = allocBuf(dtype, O);
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < O; o++) {
          const off = (n * O + o) * OHW;
          let s = 0;
          for (let i = 0; i < OHW; i++) s += dy[off + i];
          gb[o] += s;
        }
      }
    }
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}
