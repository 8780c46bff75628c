/**
 * One table per concern for every IR op: shape inference, forward on the engine, and cost
 * (MACs and parameter counts with Torch-Pruning's `count_ops_and_params` conventions).
 * Adding an op means one entry here (and its pruning rule in prune/).
 */
import type { Tensor } from '../tensor/tensor.js';
import { add, addInPlace, relu, reluInPlace, relu6 } from '../tensor/ops/elementwise.js';
import { linear } from '../tensor/ops/matmul.js';
import { flatten } from '../tensor/ops/reshape.js';
import { concat } from '../tensor/ops/shape.js';
import { conv2d } from '../tensor/ops/conv.js';
import { batchNorm } from '../tensor/ops/batchnorm.js';
import { maxPool2d, avgPool2d, globalAvgPool, poolOutSize } from '../tensor/ops/pool.js';
import { sigmoid, silu, leakyRelu } from '../tensor/ops/elementwise.js';
import { hardSigmoid, hardSwish, prelu, channelMul } from '../tensor/ops/activation.js';
import { softmax } from '../tensor/ops/softmax.js';
import { GraphError, type NodeDef, type Params, type Pair } from './graph.js';

export interface ForwardMode {
  training: boolean;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

function expectRank(node: NodeDef, s: readonly number[], rank: number): void {
  if (s.length !== rank) throw new GraphError(`node '${node.name}' (${node.op}): expected a ${rank === 3 ? 'C×H×W' : 'feature'} input, got shape ${fmt(s)}`);
}

function expectChannels(node: NodeDef, s: readonly number[], c: number): void {
  if (s[0] !== c) throw new GraphError(`node '${node.name}' (${node.op}): expects ${c} input channels, got shape ${fmt(s)}`);
}

export function convOut(size: number, k: number, stride: number, pad: number, dil: number): number {
  return Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
}


/** Per-sample output shape of a node given its input shapes (no batch dimension). */
export function inferNodeShape(node: NodeDef, ins: number[][]): number[] {
  switch (node.op) {
    case 'input':
      return [...node.shape];
    case 'conv2d': {
      const s = ins[0];
      expectRank(node, s, 3);
      expectChannels(node, s, node.inChannels);
      if (node.inChannels % node.groups !== 0 || node.outChannels % node.groups !== 0) {
        throw new GraphError(`node '${node.name}' (conv2d): channels ${node.inChannels}→${node.outChannels} not divisible by groups ${node.groups}`);
      }
      const oh = convOut(s[1], node.kernel[0], node.stride[0], node.padding[0], node.dilation[0]);
      const ow = convOut(s[2], node.kernel[1], node.stride[1], node.padding[1], node.dilation[1]);
      if (oh <= 0 || ow <= 0) throw new GraphError(`node '${node.name}' (conv2d): input ${fmt(s)} too small for the kernel`);
      return [node.outChannels, oh, ow];
    }
    case 'batchnorm':
      expectChannels(node, ins[0], node.channels);
      return [...ins[0]];
    case 'linear': {
      const s = ins[0];
      expectRank(node, s, 1);
      if (s[0] !== node.inFeatures) throw new GraphError(`node '${node.name}' (linear): expects ${node.inFeatures} input features, got shape ${fmt(s)}`);
      return [node.outFeatures];
    }
    case 'maxpool':
    case 'avgpool': {
      const s = ins[0];
      expectRank(node, s, 3);
      return [s[0], poolOutSize(s[1], node.kernel[0], node.stride[0], node.padding[0], node.ceil), poolOutSize(s[2], node.kernel[1], node.stride[1], node.padding[1], node.ceil)];
    }
    case 'gap':
      expectRank(node, ins[0], 3);
      return [ins[0][0]];
    case 'flatten':
      return [ins[0].reduce((p, d) => p * d, 1)];
    case 'concat': {
      const r = ins[0].length;
      for (const s of ins) {
        if (s.length !== r || s.slice(1).some((d, i) => d !== ins[0][i + 1])) {
          throw new GraphError(`node '${node.name}' (concat): inputs ${ins.map(fmt).join(', ')} differ outside the channel axis`);
        }
      }
      return [ins.reduce((p, s) => p + s[0], 0), ...ins[0].slice(1)];
    }
    case 'add':
      for (const s of ins) {
        if (fmt(s) !== fmt(ins[0])) throw new GraphError(`node '${node.name}' (add): input shapes differ: ${ins.map(fmt).join(', ')}`);
      }
      return [...ins[0]];
    case 'mul': {
      const [x, sc] = ins;
      if (fmt(sc) !== fmt(x) && !(sc.length === 1 && x.length === 3 && sc[0] === x[0])) {
        throw new GraphError(`node '${node.name}' (mul): cannot scale ${fmt(x)} by ${fmt(sc)} (same shape, or one value per channel)`);
      }
      return [...x];
    }
    case 'prelu':
      expectChannels(node, ins[0], node.channels);
      return [...ins[0]];
    case 'softmax':
      expectRank(node, ins[0], 1);
      return [...ins[0]];
    case 'relu':
    case 'relu6':
    case 'identity':
    case 'sigmoid':
    case 'hardsigmoid':
    case 'hardswish':
    case 'silu':
    case 'leakyrelu':
      return [...ins[0]];
  }
}

function param(params: Params, name: string, node: NodeDef): Tensor {
  const t = params[name];
  if (t === undefined) throw new GraphError(`node '${node.name}' (${node.op}): missing parameter '${name}'`);
  return t;
}

/**
 * Runs one node on the engine. BN in training mode updates its running buffers in place; they are
 * passed detached (same storage) so differentiating over a whole Params record, buffers included, works.
 * inPlace ≥ 0: a relu or two-input add may write into xs[inPlace] (the caller knows nothing else reads it).
 * fuseRelu: a batch norm returns relu(bn(x)) (the caller skips the relu that was its only reader).
 */
export function forwardNode(node: NodeDef, xs: Tensor[], params: Params, mode: ForwardMode, inPlace = -1, fuseRelu = false): Tensor {
  const p = (role: string) => param(params, `${node.name}.${role}`, node);
  switch (node.op) {
    case 'input':
      return xs[0];
    case 'conv2d':
      return conv2d(xs[0], p('weight'), node.bias ? p('bias') : null, {
        stride: node.stride, padding: node.padding, dilation: node.dilation, groups: node.groups,
      });
    case 'batchnorm':
      return batchNorm(xs[0], node.affine ? p('weight') : null, node.affine ? p('bias') : null, p('running_mean').detach(), p('running_var').detach(), {
        training: mode.training, momentum: node.momentum, eps: node.eps, relu: fuseRelu,
      });
    case 'linear':
      return linear(xs[0], p('weight'), node.bias ? p('bias') : null);
    case 'maxpool':
      return maxPool2d(xs[0], { kernel: node.kernel, stride: node.stride, padding: node.padding, ceil: node.ceil });
    case 'avgpool':
      return avgPool2d(xs[0], { kernel: node.kernel, stride: node.stride, padding: node.padding, ceil: node.ceil });
    case 'gap':
      return globalAvgPool(xs[0]);
    case 'flatten':
      return flatten(xs[0], 1);
    case 'concat':
      return concat(xs, 1);
    case 'add':
      if (inPlace >= 0 && xs.length === 2) return addInPlace(xs[inPlace], xs[1 - inPlace]);
      return xs.slice(1).reduce((acc, t) => add(acc, t), xs[0]);
    case 'relu':
      return inPlace === 0 ? reluInPlace(xs[0]) : relu(xs[0]);
    case 'relu6':
      return relu6(xs[0]);
    case 'identity':
      return xs[0];
    case 'sigmoid':
      return sigmoid(xs[0]);
    case 'hardsigmoid':
      return hardSigmoid(xs[0], node.alpha, node.beta);
    case 'hardswish':
      return hardSwish(xs[0]);
    case 'silu':
      return silu(xs[0]);
    case 'leakyrelu':
      return leakyRelu(xs[0], node.alpha);
    case 'prelu':
      return prelu(xs[0], p('weight'));
    case 'mul':
      return channelMul(xs[0], xs[1]);
    case 'softmax':
      return softmax(xs[0], 1);
  }
}

const numel = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/**
 * MACs of one node for one sample, with Torch-Pruning's count_ops_and_params (ptflops-style)
 * conventions: conv = out elements·k·k·Cin/groups (+ out elements for bias); linear = in·out
 * (+ out); BN = numel (×2 when affine); ReLU, PReLU, LeakyReLU = numel; pooling = input numel.
 * Element-wise add/mul, concat, flatten, identity and the sigmoid family are free (ptflops has no
 * hooks for them).
 */
export function nodeMacs(node: NodeDef, ins: number[][], out: number[]): number {
  switch (node.op) {
    case 'conv2d': {
      const perOut = node.kernel[0] * node.kernel[1] * (node.inChannels / node.groups);
      return numel(out) * perOut + (node.bias ? numel(out) : 0);
    }
    case 'linear':
      return node.inFeatures * node.outFeatures + (node.bias ? node.outFeatures : 0);
    case 'batchnorm':
      return numel(out) * (node.affine ? 2 : 1);
    case 'relu':
    case 'relu6':
    case 'prelu':
    case 'leakyrelu':
      return numel(out);
    case 'maxpool':
    case 'avgpool':
    case 'gap':
      return numel(ins[0]);
    default:
      return 0;
  }
}

/** Trainable parameter count of a node (BN running statistics excluded, as in PyTorch's numel over parameters()). */
export function nodeParamCount(node: NodeDef): number {
  switch (node.op) {
    case 'conv2d':
      return node.outChannels * (node.inChannels / node.groups) * node.kernel[0] * node.kernel[1] + (node.bias ? node.outChannels : 0);
    case 'linear':
      return node.inFeatures * node.outFeatures + (node.bias ? node.outFeatures : 0);
    case 'batchnorm':
      return node.affine ? 2 * node.channels : 0;
    case 'prelu':
      return node.channels;
    default:
      return 0;
  }
}

export type { Pair };
