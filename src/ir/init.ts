/**
 * Parameter initialization as PyTorch does it, deterministic from a seed.
 * - 'torch-default': nn.Conv2d / nn.Linear defaults (kaiming_uniform with a=√5 → U(±1/√fan_in), bias U(±1/√fan_in)).
 * - 'kaiming-fan-out': kaiming_normal_(mode='fan_out', nonlinearity='relu') for convs (torchvision ResNets,
 *   MobileNetV2, CIFAR ResNets); linear layers keep the torch default.
 * BN: weight 1, bias 0, running mean 0, running var 1.
 */
import { Tensor, full, zeros } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';
import { paramNames, paramShapes, type ModelGraph, type Params } from './graph.js';

export type InitScheme = 'torch-default' | 'kaiming-fan-out';

function uniform(shape: number[], bound: number, rng: Rng): Tensor {
  const t = zeros(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.uniform(-bound, bound);
  return t;
}

export function initParams(g: ModelGraph, seed: number, scheme: InitScheme = 'torch-default'): Params {
  const rng = new Rng(seed);
  const params: Params = {};
  for (const n of g.nodes) {
    const shapes = paramShapes(n);
    for (const { role, name } of paramNames(n)) {
      const shape = shapes[name];
      if (n.op === 'conv2d' || n.op === 'linear') {
        const fanIn = n.op === 'conv2d' ? (n.inChannels / n.groups) * n.kernel[0] * n.kernel[1] : n.inFeatures;
        const bound = 1 / Math.sqrt(fanIn);
        if (role === 'weight' && n.op === 'conv2d' && scheme === 'kaiming-fan-out') {
          const fanOut = (n.outChannels / n.groups) * n.kernel[0] * n.kernel[1];
          const std = Math.sqrt(2 / fanOut);
          const t = zeros(shape);
          for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
          params[name] = t;
        } else if (role === 'bias' && n.op === 'conv2d' && scheme === 'kaiming-fan-out') {
          params[name] = zeros(shape);
        } else {
          params[name] = uniform(shape, bound, rng);
        }
      } else if (n.op === 'batchnorm') {
        params[name] = role === 'weight' || role === 'running_var' ? full(shape, 1) : zeros(shape);
      }
    }
  }
  return params;
}

/** Deep copy of params (fresh storage, no autograd history). */
export function cloneParams(p: Params): Params {
  const out: Params = {};
  for (const k of Object.keys(p)) out[k] = p[k].clone();
  return out;
}
