/** Layer normalization without affine parameters (compose with mul/add for gamma/beta). */
import { Tensor, allocBuf } from '../tensor.js';
import { record } from '../autograd.js';
import { TensorError, fmtShape } from '../errors.js';
import { axisOf, axisView } from './shape.js';

export interface LayerNormOptions {
  /** The axis normalized over (default -1, the feature axis). */
  axis?: number;
  /** Added to the variance inside the square root (default 1e-5). */
  eps?: number;
}

/**
 * y = (x − mean) / sqrt(var + eps) over `axis`, with the biased variance — PyTorch's
 * F.layer_norm(x, [x.shape[-1]]) for the default axis. Other axes are normalized on their own.
 */
export function layerNorm(x: Tensor, opts: LayerNormOptions = {}): Tensor {
  const ax = axisOf('layerNorm', opts.axis ?? -1, x.shape);
  const eps = opts.eps ?? 1e-5;
  if (!(eps >= 0)) throw new TensorError('layerNorm', `eps must be non-negative, got ${eps} (shape ${fmtShape(x.shape)})`);
  const { outer, n, inner } = axisView(x.shape, ax);
  const dtype = x.dtype;
  const a = x.data;
  const y = allocBuf(dtype, x.size);
  const invstd = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const end = base + n * inner;
      let s = 0;
      for (let p = base; p < end; p += inner) s += a[p];
      const m = s / n;
      let v = 0;
      for (let p = base; p < end; p += inner) {
        const d = a[p] - m;
        v += d * d;
      }
      const r = 1 / Math.sqrt(v / n + eps);
      invstd[o * inner + i] = r;
      for (let p = base; p < end; p += inner) y[p] = (a[p] - m) * r;
    }
  }
  return record(new Tensor(y, x.shape), 'layerNorm', [x], (g) => {
    // dx = invstd · (g − mean(g) − ŷ · mean(g ⊙ ŷ)) along the axis
    const gx = allocBuf(dtype, x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        const end = base + n * inner;
        let sg = 0;
        let sgy = 0;
        for (let p = base; p < end; p += inner) {
          sg += g[p];
          sgy += g[p] * y[p];
        }
        const mg = sg / n;
        const mgy = sgy / n;
        const r = invstd[o * inner + i];
        for (let p = base; p < end; p += inner) gx[p] = r * (g[p] - mg - y[p] * mgy);
      }
    }
    return [gx];
  });
}
