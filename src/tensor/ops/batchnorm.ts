/**
 * Batch normalization over x[N, C, H, W] or x[N, C] (PyTorch's F.batch_norm), on the registry's
 * `channelMoments` / `channelAffine` / `channelBackwardSums` kernels.
 *
 * The running statistics are *buffers*, not parameters: like PyTorch's `running_mean` /
 * `running_var`, they are mutated in place by every training-mode call and never receive gradients
 * (passing a tensor that requires grad is an error).
 */
import { Tensor, allocBuf } from '../tensor.js';
import type { Buf } from '../kernels.js';
import { freshGrad, record } from '../autograd.js';
import { kernel } from '../registry.js';
import { TensorError, fmtShape } from '../errors.js';
import { checkDtypes } from './util.js';
import { fastFor } from '../backends/fast.js';

export interface BatchNormOptions {
  /** Training mode normalizes with the batch statistics and updates the running buffers; eval mode uses the buffers. */
  training: boolean;
  /** Weight of the new batch statistic in the running averages; default 0.1. */
  momentum?: number;
  /** Added to the variance before the square root; default 1e-5. */
  eps?: number;
  /**
   * Apply a ReLU to the output, as one op (ir/forward.ts fuses BN → ReLU this way): the backends
   * apply the ReLU and its gradient mask inside the batch-norm kernels' passes. Same values as
   * relu(batchNorm(...)), bit for bit.
   */
  relu?: boolean;
}

/** out[i] = y[i] > 0 ? g[i] : 0 (out may be g). */
function reluMask(y: Buf, g: Buf, out: Buf): Buf {
  for (let i = 0; i < out.length; i++) out[i] = y[i] > 0 ? g[i] : 0;
  return out;
}

function checkChannelVector(what: string, t: Tensor, C: number, x: Tensor): void {
  if (t.rank !== 1 || t.shape[0] !== C) {
    throw new TensorError('batchNorm', `${what} must be [${C}] for input ${fmtShape(x.shape)}, got ${fmtShape(t.shape)}`);
  }
}

/**
 * y = (x − mean) / sqrt(var + eps) · gamma + beta, per channel (dim 1).
 *
 * Training mode: mean and (biased) variance over N, H, W of this batch, differentiated through;
 * `runningMean` ← (1 − momentum)·runningMean + momentum·mean and `runningVar` likewise with the
 * unbiased batch variance, both updated IN PLACE (pass null to skip tracking).
 * Eval mode: the running statistics are used as constants (they are required).
 * gamma / beta may be null (no affine transform); both are differentiable, as is x.
 */
export function batchNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  const op = 'batchNorm';
  const others = [gamma, beta, runningMean, runningVar].filter((t): t is Tensor => t !== null);
  const dtype = checkDtypes(op, x, ...others);
  if (x.rank !== 4 && x.rank !== 2) throw new TensorError(op, `input must be [N, C, H, W] or [N, C], got shape ${fmtShape(x.shape)}`);
  const [N, C] = x.shape;
  const HW = x.rank === 4 ? x.shape[2] * x.shape[3] : 1;
  if (gamma) checkChannelVector('gamma', gamma, C, x);
  if (beta) checkChannelVector('beta', beta, C, x);
  if (runningMean) checkChannelVector('runningMean', runningMean, C, x);
  if (runningVar) checkChannelVector('runningVar', runningVar, C, x);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new TensorError(op, 'runningMean and runningVar must be given together');
  }
  if (runningMean?.requiresGrad || runningVar?.requiresGrad) {
    throw new TensorError(op, 'running statistics are buffers updated in place and must not require grad');
  }
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  if (!(eps >= 0)) throw new TensorError(op, `eps must be ≥ 0, got ${eps}`);
  if (!(momentum >= 0 && momentum <= 1)) throw new TensorError(op, `momentum must be in [0, 1], got ${momentum}`);
  const count = N * HW;
  const relu = opts.relu ?? false;
  let fusedForward = false; // the backend's fast path applied the ReLU

  const mean = allocBuf(dtype, C);
  const invstd = allocBuf(dtype, C);
  const scale = allocBuf(dtype, C);
  const shift = allocBuf(dtype, C);
  let outData: Buf;
  /** Fills scale and shift from invstd and the affine parameters. */
  const affineCoefs = (): readonly [Buf, Buf] => {
    for (let c = 0; c < C; c++) {
      scale[c] = (gamma ? gamma.data[c] : 1) * invstd[c];
      shift[c] = beta ? beta.data[c] : 0;
    }
    return [scale, shift];
  };
  if (opts.training) {
    if (count <= 1) throw new TensorError(op, `expected more than 1 value per channel when training, got input ${fmtShape(x.shape)}`);
    const variance = allocBuf(dtype, C);
    /** After the batch moments: invstd and the running statistics. */
    const useMoments = (): void => {
      for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(variance[c] + eps);
      if (runningMean && runningVar) {
        const rm = runningMean.data, rv = runningVar.data;
        const unbias = count / (count - 1);
        for (let c = 0; c < C; c++) {
          rm[c] = (1 - momentum) * rm[c] + momentum * mean[c];
          rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * unbias;
        }
      }
    };
    const f = fastFor(x.size, x.data, mean);
    if (f) {
      fusedForward = true;
      // Same kernels in the same order, with one copy of x into the backend.
      outData = f.batchNormForward(x.data as Float32Array, mean as Float32Array, variance as Float32Array, N, C, HW, () => {
        useMoments();
        return affineCoefs() as [Float32Array, Float32Array];
      }, relu);
    } else {
      kernel('channelMoments')(x.data, mean, variance, N, C, HW);
      useMoments();
      affineCoefs();
      outData = allocBuf(dtype, x.size);
      kernel('channelAffine')(x.data, mean, scale, shift, outData, N, C, HW);
    }
  } else {
    if (!runningMean || !runningVar) throw new TensorError(op, 'eval mode needs runningMean and runningVar');
    // Copies: the buffers may be updated in place before backward runs.
    mean.set(runningMean.data);
    for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(runningVar.data[c] + eps);
    affineCoefs();
    const f = fastFor(x.size, x.data, mean);
    if (f) {
      fusedForward = true; // the ReLU too, in the backend
      outData = f.channelAffine(x.data as Float32Array, mean as Float32Array, scale as Float32Array, shift as Float32Array, N, C, HW, relu);
    } else {
      outData = allocBuf(dtype, x.size);
      kernel('channelAffine')(x.data, mean, scale, shift, outData, N, C, HW);
    }
  }
  if (relu && !fusedForward) for (let i = 0; i < outData.length; i++) outData[i] = outData[i] > 0 ? outData[i] : 0;
  const out = new Tensor(outData, x.shape);

  const inputs: Tensor[] = [x];
  if (gamma) inputs.push(gamma);
  if (beta) inputs.push(beta);
  const training = opts.training;
  const finalOut = outData;
  return record(out, relu ? 'batchNormRelu' : 'batchNorm', inputs, (dyIn, overwriteIn) => {
    const needAffine = (gamma?.requiresGrad ?? false) || (beta?.requiresGrad ?? false);
    // The fused ReLU's mask goes into the backend's batch-norm backward when that computes
    // everything (training, x needs its gradient); otherwise it is applied here first.
    const fusedMask = relu && training && x.requiresGrad && fastFor(x.size, x.data, dyIn) !== undefined;
    let dy = dyIn, overwrite = overwriteIn;
    if (relu && !fusedMask) {
      const fm = fastFor(x.size, finalOut, dyIn);
      dy = fm ? fm.reluBackward(finalOut as Float32Array, dyIn as Float32Array, overwrite ? dyIn as Float32Array : undefined)
        : reluMask(finalOut, dyIn, overwrite ? dyIn : allocBuf(dtype, x.size));
      overwrite = true; // the masked gradient is this closure's own
    }
    let sumDy: Buf | null = null, sumDyXhat: Buf | null = null;
    let gx: Buf | null = null;
    /** dx = gamma·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) = k1·dy + k2·(x − mean) + k3 */
    const dxCoefs = (sDy: Buf, sDyXhat: Buf): readonly [Buf, Buf, Buf] => {
      const k2 = allocBuf(dtype, C);
      const k3 = allocBuf(dtype, C);
      for (let c = 0; c < C; c++) {
        k2[c] = (-scale[c] * invstd[c] * sDyXhat[c]) / count;
        k3[c] = (-scale[c] * sDy[c]) / count;
      }
      return [scale, k2, k3];
    };
    let done = false;
    if (needAffine || (training && x.requiresGrad)) {
      sumDy = allocBuf(dtype, C);
      sumDyXhat = allocBuf(dtype, C);
      const f = fastFor(x.size, x.data, dy);
      if (f) {
        // Same arithmetic as below, with one copy of dy and x into the backend.
        const sDy = sumDy, sDyXhat = sumDyXhat;
        // dx into dy when the engine allows it (the kernel reads dy[i] before writing dx[i])
        gx = f.batchNormBackward(dy as Float32Array, x.data as Float32Array, mean as Float32Array, invstd as Float32Array,
          sDy as Float32Array, sDyXhat as Float32Array, N, C, HW, training && x.requiresGrad,
          () => dxCoefs(sDy, sDyXhat) as [Float32Array, Float32Array, Float32Array], overwrite ? dy as Float32Array : undefined,
          fusedMask ? finalOut as Float32Array : undefined);
        done = gx !== null;
      } else {
        kernel('channelBackwardSums')(dy, x.data, mean, invstd, sumDy, sumDyXhat, N, C, HW);
      }
    }
    if (x.requiresGrad && !done) {
      if (training && sumDy && sumDyXhat) {
        gx = allocBuf(dtype, x.size);
        const [k1, k2, k3] = dxCoefs(sumDy, sumDyXhat);
        kernel('channelAffine')(x.data, mean, k2, k3, gx, N, C, HW);
        for (let n = 0; n < N; n++) {
          for (let c = 0; c < C; c++) {
            const k = k1[c];
            const o = (n * C + c) * HW;
            for (let i = 0; i < HW; i++) gx[o + i] += k * dy[o + i];
          }
        }
      } else {
        // Constant statistics: dx = gamma·invstd·dy (the backend's fast path when it has one).
        const zero = allocBuf(dtype, C);
        const f = fastFor(x.size, dy, scale);
        if (f) {
          gx = f.channelAffine(dy as Float32Array, zero as Float32Array, scale as Float32Array, zero as Float32Array, N, C, HW);
        } else {
          gx = allocBuf(dtype, x.size);
          kernel('channelAffine')(dy, zero, scale, zero, gx, N, C, HW);
        }
      }
    }
    const grads: (Buf | null)[] = [gx === null ? null : freshGrad(gx)];
    if (gamma) grads.push(gamma.requiresGrad ? sumDyXhat : null);
    if (beta) grads.push(beta.requiresGrad ? sumDy : null);
    return grads;
  });
}
