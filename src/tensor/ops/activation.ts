/**
 * Activations of deployed CNNs (MobileNetV3, EfficientNet, RegNet) beyond elementwise.ts's:
 * hard sigmoid and hard swish with PyTorch/ONNX semantics, per-channel PReLU, and the per-channel
 * scale of squeeze-and-excitation (x[N, C, ...] · s[N, C]).
 */
import { Tensor, allocBuf } from '../tensor.js';
import { record } from '../autograd.js';
import { TensorError, fmtShape } from '../errors.js';
import { mul } from './elementwise.js';
import { reshape } from './reshape.js';

/** ONNX HardSigmoid: max(0, min(1, alpha·x + beta)); PyTorch's hardsigmoid is alpha = 1/6, beta = 0.5. */
export function hardSigmoid(a: Tensor, alpha = 0.2, beta = 0.5): Tensor {
  const x = a.data;
  const o = allocBuf(a.dtype, a.size);
  for (let i = 0; i < o.length; i++) {
    const v = alpha * x[i] + beta;
    o[i] = v <= 0 ? 0 : v >= 1 ? 1 : v;
  }
  return record(new Tensor(o, a.shape), 'hardSigmoid', [a], (g) => {
    const r = allocBuf(a.dtype, a.size);
    for (let i = 0; i < r.length; i++) r[i] = o[i] > 0 && o[i] < 1 ? g[i] * alpha : 0;
    return [r];
  });
}

/** Hard swish x · relu6(x + 3) / 6 (PyTorch's nn.Hardswish, ONNX HardSwish). */
export function hardSwish(a: Tensor): Tensor {
  const x = a.data;
  const o = allocBuf(a.dtype, a.size);
  for (let i = 0; i < o.length; i++) {
    const v = x[i];
    o[i] = v <= -3 ? 0 : v >= 3 ? v : (v * (v + 3)) / 6;
  }
  return record(new Tensor(o, a.shape), 'hardSwish', [a], (g) => {
    const r = allocBuf(a.dtype, a.size);
    for (let i = 0; i < r.length; i++) {
      const v = x[i];
      r[i] = v < -3 ? 0 : v > 3 ? g[i] : (g[i] * (2 * v + 3)) / 6;
    }
    return [r];
  });
}

/** PReLU with one slope per channel (axis 1): x > 0 ? x : w[c]·x. */
export function prelu(a: Tensor, w: Tensor): Tensor {
  if (a.rank < 2 || w.size !== a.shape[1]) throw new TensorError('prelu', `slope ${fmtShape(w.shape)} needs one value per channel of input ${fmtShape(a.shape)}`);
  const C = a.shape[1];
  const inner = a.shape.slice(2).reduce((p, d) => p * d, 1);
  const x = a.data, s = w.data;
  const o = allocBuf(a.dtype, a.size);
  for (let i = 0; i < o.length; i++) {
    const v = x[i];
    o[i] = v > 0 ? v : s[Math.floor(i / inner) % C] * v;
  }
  return record(new Tensor(o, a.shape), 'prelu', [a, w], (g) => {
    let gx = null, gw = null;
    if (a.requiresGrad) {
      gx = allocBuf(a.dtype, a.size);
      for (let i = 0; i < gx.length; i++) gx[i] = x[i] > 0 ? g[i] : g[i] * s[Math.floor(i / inner) % C];
    }
    if (w.requiresGrad) {
      gw = allocBuf(w.dtype, C);
      for (let i = 0; i < x.length; i++) if (!(x[i] > 0)) gw[Math.floor(i / inner) % C] += g[i] * x[i];
    }
    return [gx, gw];
  });
}

/** x[N, C, ...] times s of the same shape, or s[N, C] broadcast over the spatial dims (squeeze-and-excitation). */
export function channelMul(x: Tensor, s: Tensor): Tensor {
  if (s.rank === 2 && x.rank > 2 && s.shape[0] === x.shape[0] && s.shape[1] === x.shape[1]) {
    return mul(x, reshape(s, [...s.shape, ...new Array<number>(x.rank - 2).fill(1)]));
  }
  if (s.rank !== x.rank || s.shape.some((d, i) => d !== x.shape[i])) throw new TensorError('channelMul', `cannot scale ${fmtShape(x.shape)} by ${fmtShape(s.shape)}`);
  return mul(x, s);
}
