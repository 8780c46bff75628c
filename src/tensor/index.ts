/** The tensor engine's public surface. Importing it registers the backends. */
import './backends/index.js';
export { getThreads, setThreads, nativeInfo, setNativeDnnl } from './backends/index.js';
export { residentScope } from './backends/fast.js';
export { setResidentBudgetMB } from './backends/resident.js';

export { Tensor, tensor, scalar, zeros, ones, full, randn, randu, arange, sizeOf, type DType, type Shape, type GradFn } from './tensor.js';
export { Rng } from './random.js';
export { TensorError, EngineError } from './errors.js';
export type { Buf, KernelMap, KernelName, ConvGeom, PoolGeom } from './kernels.js';
export { registerKernels, setBackend, getBackend, hasBackend, registeredBackends, withBackend, kernel, kernelOf, type BackendName } from './registry.js';
export {
  noGrad, isGradEnabled, record, backward, valueAndGrad, valueAndGradAux, grad, vjp,
  treeLeaves, treeUnflatten, treeMap, type TensorTree, type Differentiable, type ValueAndGrad,
} from './autograd.js';
export { gradCheck, randomTensor, type GradCheckOptions, type GradCheckResult } from './gradcheck.js';
export {
  add, sub, mul, div, pow, maximum, minimum, neg, exp, log, sqrt, abs, relu, relu6, sigmoid, tanh, square, silu, clamp, leakyRelu, scale,
} from './ops/elementwise.js';
export { sum, mean, max, min, variance, type ReduceOptions } from './ops/reduce.js';
export { matmul, linear } from './ops/matmul.js';
export { reshape, flatten } from './ops/reshape.js';
export { permute, transpose, concat, stack, slice, split, indexSelect, pad, expand, broadcastTo } from './ops/shape.js';
export { softmax, logSoftmax, crossEntropy, nllLoss, accuracy } from './ops/softmax.js';
export { layerNorm } from './ops/norm.js';
export { hardSigmoid, hardSwish, prelu, channelMul } from './ops/activation.js';
export { segmentSum, segmentMean, segmentMax, segmentMin } from './ops/segment.js';
export { conv2d, type Conv2dOptions } from './ops/conv.js';
export { maxPool2d, avgPool2d, globalAvgPool, type Pool2dOptions } from './ops/pool.js';
export { batchNorm, type BatchNormOptions } from './ops/batchnorm.js';
