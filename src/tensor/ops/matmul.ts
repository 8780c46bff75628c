/** matmul (2-D and batched) and linear layers, on the registry's `matmul` kernel. */
import { Tensor, allocBuf } from '../tensor.js';
import { record } from '../autograd.js';
import { kernel } from '../registry.js';
import { TensorError, fmtShape } from '../errors.js';
import { checkDtypes } from './util.js';

/**
 * a[..., M, K] · b[..., K, N] → [..., M, N]. Batch dims must match exactly, or b may be 2-D
 * (shared across the batch).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const dtype = checkDtypes('matmul', a, b);
  if (a.rank < 2 || b.rank < 2) throw new TensorError('matmul', `inputs must have rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const M = a.shape[a.rank - 2], K = a.shape[a.rank - 1];
  const K2 = b.shape[b.rank - 2], N = b.shape[b.rank - 1];
  if (K !== K2) throw new TensorError('matmul', `inner dimensions differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)}`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const sharedB = b.rank === 2;
  if (!sharedB && (batchA.length !== batchB.length || batchA.some((d, i) => d !== batchB[i]))) {
    throw new TensorError('matmul', `batch dimensions differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)}`);
  }
  const batch = batchA.reduce((p, d) => p * d, 1);
  const mm = kernel('matmul');
  const out = new Tensor(allocBuf(dtype, batch * M * N), [...batchA, M, N]);
  if (sharedB) {
    // Fold the batch into M: one big GEMM.
    mm(a.data, b.data, out.data, batch * M, K, N, false, false, false);
  } else {
    for (let i = 0; i < batch; i++) {
      mm(a.data.subarray(i * M * K, (i + 1) * M * K), b.data.subarray(i * K * N, (i + 1) * K * N),
        out.data.subarray(i * M * N, (i + 1) * M * N), M, K, N, false, false, false);
    }
  }
  return record(out, 'matmul', [a, b], (g) => {
    let ga = null, gb = null;
    if (a.requiresGrad) {
      ga = allocBuf(dtype, a.size);
      if (sharedB) mm(g, b.data, ga, batch * M, N, K, false, true, false);
      else for (let i = 0; i < batch; i++) {
        mm(g.subarray(i * M * N, (i + 1) * M * N), b.data.subarray(i * K * N, (i + 1) * K * N),
          ga.subarray(i * M * K, (i + 1) * M * K), M, N, K, false, true, false);
      }
    }
    if (b.requiresGrad) {
      gb = allocBuf(dtype, b.size);
      if (sharedB) mm(a.data, g, gb, K, batch * M, N, true, false, false);
      else for (let i = 0; i < batch; i++) {
        mm(a.data.subarray(i * M * K, (i + 1) * M * K), g.subarray(i * M * N, (i + 1) * M * N),
          gb.subarray(i * K * N, (i + 1) * K * N), K, M, N, true, false, false);
      }
    }
    return [ga, gb];
  });
}

/** x[..., in] · weightᵀ[out, in] + bias[out] → [..., out] (PyTorch's nn.Linear layout). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const dtype = checkDtypes('linear', x, weight, ...(bias ? [bias] : []));
  if (weight.rank !== 2) throw new TensorError('linear', `weight must be [out, in], got ${fmtShape(weight.shape)}`);
  const [O, I] = weight.shape;
  if (x.shape[x.rank - 1] !== I) throw new TensorError('linear', `input ${fmtShape(x.shape)} does not end in ${I} (weight ${fmtShape(weight.shape)})`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== O)) throw new TensorError('linear', `bias must be [${O}], got ${fmtShape(bias.shape)}`);
  const M = x.size / I;
  const mm = kernel('matmul');
  const o = allocBuf(dtype, M * O);
  mm(x.data, weight.data, o, M, I, O, false, true, false);
  if (bias) for (let m = 0; m < M; m++) for (let j = 0; j < O; j++) o[m * O + j] += bias.data[j];
  const out = new Tensor(o, [...x.shape.slice(0, -1), O]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'linear', inputs, (g) => {
    let gx = null, gw = null, gbias = null;
    if (x.requiresGrad) {
      gx = allocBuf(dtype, x.size);
      mm(g, weight.data, gx, M, O, I, false, false, false);
    }
    if (weight.requiresGrad) {
      gw = allocBuf(dtype, weight.size);
      mm(g, x.data, gw, O, M, I, true, false, false);
    }
    if (bias && bias.requiresGrad) {
      gbias = allocBuf(dtype, O);
      for (let m = 0; m < M; m++) for (let j = 0; j < O; j++) gbias[j] += g[m * O + j];
    }
    return bias ? [gx, gw, gbias] : [gx, gw];
  });
}
