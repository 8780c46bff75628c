/**
 * The pruning rule of every IR op, in one table: how channel indices flow through the op (which
 * channels of its inputs and output are the same "atom" and must go together), which parameter
 * slices each channel owns, and how the node's channel counts change after pruning. This is the
 * knowledge Torch-Pruning keeps in its per-op pruning functions and index mappings.
 *
 * Channels are atoms; the dependency graph unions atoms that must be pruned together:
 * - producers (conv, linear, the model input) create fresh atoms for their output channels;
 * - pass-through ops (BN, ReLU, pooling, gap, identity, depthwise conv) share their input's atoms;
 * - add shares its first input's atoms and unions every other input with them, index by index;
 *   mul too: in squeeze-and-excitation its scale (the excite layer's outputs, one per channel) is
 *   coupled to the trunk, while the squeeze layer's outputs stay a group of their own;
 * - PReLU's per-channel slope is sliced with its channel, like BN's parameters;
 * - concat lays its inputs' atoms end to end (the offsets into the consumer);
 * - flatten of C×H×W maps feature f to channel ⌊f / (H·W)⌋ (one contiguous block per channel);
 * - a grouped conv (1 < groups, not depthwise) unions local channel j of every group on its input
 *   and on its output, so pruning stays balanced and the group count stays valid.
 */
import { paramNames, type Conv2dNode, type NodeDef, type OpType } from '../ir/graph.js';

export type SliceKind = 'out' | 'in' | 'bn';
export type ParamRole = 'weight' | 'bias' | 'running_mean' | 'running_var';

/** A family of parameter slices of one node, selected by the channels of one of its tensors. */
export interface SliceRule {
  role: ParamRole;
  axis: number;
  kind: SliceKind;
  /** Tensor whose channel i selects a slice: -1 = the node's output, j ≥ 0 = its input j. */
  tensor: number;
  /** Index along `axis` of the slice of channel i. */
  index(i: number): number;
}

export interface FlowContext {
  node: NodeDef;
  inShapes: readonly (readonly number[])[];
  outShape: readonly number[];
  /** Atom of every channel of every input tensor. */
  ins: readonly Int32Array[];
  /** n new atoms owned by this node (its output channels 0..n-1). */
  fresh(n: number): Int32Array;
  /** Declares two atoms coupled. */
  union(a: number, b: number): void;
}

export interface OpRule {
  /** Atom of every output channel (axis 0 of the per-sample output). */
  flow(c: FlowContext): Int32Array;
  /** Parameter slices indexed by channels. */
  slices(node: NodeDef, inShapes: readonly (readonly number[])[]): SliceRule[];
  /** The node with its channel attributes updated to the new input/output channel counts. */
  resize(node: NodeDef, inChannels: readonly number[], outChannels: number): NodeDef;
}

const prod = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** groups == in == out > 1: every channel is filtered on its own (input and output coupled). */
export function isDepthwise(n: Conv2dNode): boolean {
  return n.groups > 1 && n.groups === n.inChannels && n.groups === n.outChannels;
}

function hasParam(node: NodeDef, role: ParamRole): boolean {
  return paramNames(node).some((p) => p.role === role);
}

/** The index map of slices selected by channel i itself (shared so slices can share index lists). */
export const identityIndex = (i: number): number => i;

/** Unions local channel j of every one of `groups` equal blocks of `atoms`. */
function unionBlocks(c: FlowContext, atoms: Int32Array, groups: number): void {
  const per = atoms.length / groups;
  for (let g = 1; g < groups; g++) for (let j = 0; j < per; j++) c.union(atoms[j], atoms[g * per + j]);
}

const passThrough: OpRule = {
  flow: (c) => c.ins[0],
  slices: () => [],
  resize: (n) => ({ ...n }),
};

const input: OpRule = {
  flow: (c) => c.fresh(c.outShape[0]),
  slices: () => [],
  resize: (n) => ({ ...n }),
};

const conv2d: OpRule = {
  flow(c) {
    const n = c.node as Conv2dNode;
    if (isDepthwise(n)) return c.ins[0];
    const out = c.fresh(n.outChannels);
    if (n.groups > 1) {
      unionBlocks(c, c.ins[0], n.groups);
      unionBlocks(c, out, n.groups);
    }
    return out;
  },
  slices(node) {
    const n = node as Conv2dNode;
    const out: SliceRule[] = [{ role: 'weight', axis: 0, kind: 'out', tensor: -1, index: identityIndex }];
    if (n.bias) out.push({ role: 'bias', axis: 0, kind: 'out', tensor: -1, index: identityIndex });
    if (!isDepthwise(n)) {
      const per = n.inChannels / n.groups;
      out.push({ role: 'weight', axis: 1, kind: 'in', tensor: 0, index: n.groups > 1 ? (i) => i % per : identityIndex });
    }
    return out;
  },
  resize(node, ins, outC) {
    const n = node as Conv2dNode;
    if (isDepthwise(n)) return { ...n, inChannels: ins[0], outChannels: ins[0], groups: ins[0] };
    return { ...n, inChannels: ins[0], outChannels: outC };
  },
};

const linear: OpRule = {
  flow: (c) => c.fresh(c.outShape[0]),
  slices(node) {
    const out: SliceRule[] = [{ role: 'weight', axis: 0, kind: 'out', tensor: -1, index: identityIndex }];
    if (hasParam(node, 'bias')) out.push({ role: 'bias', axis: 0, kind: 'out', tensor: -1, index: identityIndex });
    out.push({ role: 'weight', axis: 1, kind: 'in', tensor: 0, index: identityIndex });
    return out;
  },
  resize: (node, ins, outC) => (node.op === 'linear' ? { ...node, inFeatures: ins[0], outFeatures: outC } : { ...node }),
};

const batchnorm: OpRule = {
  flow: (c) => c.ins[0],
  slices: (node) =>
    paramNames(node).map((p) => ({ role: p.role as ParamRole, axis: 0, kind: 'bn' as const, tensor: -1, index: identityIndex })),
  resize: (node, _ins, outC) => (node.op === 'batchnorm' ? { ...node, channels: outC } : { ...node }),
};

const add: OpRule = {
  flow(c) {
    const a = c.ins[0];
    for (let j = 1; j < c.ins.length; j++) for (let i = 0; i < a.length; i++) c.union(a[i], c.ins[j][i]);
    return a;
  },
  slices: () => [],
  resize: (n) => ({ ...n }),
};

const concat: OpRule = {
  flow(c) {
    const out = new Int32Array(c.ins.reduce((s, a) => s + a.length, 0));
    let off = 0;
    for (const a of c.ins) {
      out.set(a, off);
      off += a.length;
    }
    return out;
  },
  slices: () => [],
  resize: (n) => ({ ...n }),
};

const flatten: OpRule = {
  flow(c) {
    const s = c.inShapes[0];
    if (s.length <= 1) return c.ins[0];
    const block = prod(s.slice(1));
    const src = c.ins[0];
    const out = new Int32Array(src.length * block);
    for (let f = 0; f < out.length; f++) out[f] = src[Math.floor(f / block)];
    return out;
  },
  slices: () => [],
  resize: (n) => ({ ...n }),
};

const prelu: OpRule = {
  flow: (c) => c.ins[0],
  slices: () => [{ role: 'weight', axis: 0, kind: 'bn', tensor: -1, index: identityIndex }],
  resize: (node, _ins, outC) => (node.op === 'prelu' ? { ...node, channels: outC } : { ...node }),
};

/** The pruning rule of every op type. Adding an op to the IR means adding its entry here. */
export const PRUNE_RULES: Readonly<Record<OpType, OpRule>> = {
  input,
  conv2d,
  linear,
  batchnorm,
  add,
  concat,
  flatten,
  relu: passThrough,
  relu6: passThrough,
  identity: passThrough,
  maxpool: passThrough,
  avgpool: passThrough,
  gap: passThrough,
  mul: add,
  prelu,
  sigmoid: passThrough,
  hardsigmoid: passThrough,
  hardswish: passThrough,
  silu: passThrough,
  leakyrelu: passThrough,
  softmax: passThrough,
};

/** Ops that create new channels: the candidates for group roots. */
export function isLayer(node: NodeDef): boolean {
  return node.op === 'linear' || (node.op === 'conv2d' && !isDepthwise(node));
}
