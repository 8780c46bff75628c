/**
 * The model IR: a small DAG of typed ops with named parameter tensors. Structure lives here;
 * weights live in a separate `Params` record (name → Tensor), so a model is a pure function of
 * its params (the metanetwork generates new Params; pruning produces a new graph and new Params).
 */
import { MetapruneError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

export type Pair = [number, number];

interface NodeBase {
  /** Unique name; parameter names derive from it (`<name>.weight`, ...), as in PyTorch state dicts. */
  name: string;
  /** Names of the nodes whose outputs feed this node, in order. */
  inputs: string[];
}

export interface InputNode extends NodeBase { op: 'input'; shape: number[] }
export interface Conv2dNode extends NodeBase {
  op: 'conv2d';
  inChannels: number; outChannels: number;
  kernel: Pair; stride: Pair; padding: Pair; dilation: Pair;
  groups: number; bias: boolean;
}
export interface BatchNormNode extends NodeBase { op: 'batchnorm'; channels: number; eps: number; momentum: number; affine: boolean }
export interface LinearNode extends NodeBase { op: 'linear'; inFeatures: number; outFeatures: number; bias: boolean }
export interface PoolNode extends NodeBase { op: 'maxpool' | 'avgpool'; kernel: Pair; stride: Pair; padding: Pair; ceil?: boolean }
export interface ConcatNode extends NodeBase { op: 'concat' }
/** Parameter-free ops: channel count and layout pass through (gap and flatten change the layout). */
export interface SimpleNode extends NodeBase { op: 'relu' | 'relu6' | 'add' | 'gap' | 'flatten' | 'identity' | Activation | 'mul' | 'softmax' }
/** Parameter-free activations (mul: x · s, s of x's shape or one value per channel, as in squeeze-and-excitation). */
export type Activation = 'sigmoid' | 'hardswish' | 'silu';
/** Activations with coefficients: leaky ReLU (alpha = negative slope), hard sigmoid clip(alpha·x + beta, 0, 1). */
export interface ScaledActNode extends NodeBase { op: 'leakyrelu' | 'hardsigmoid'; alpha: number; beta: number }
/** PReLU: one learned negative slope per channel (`<name>.weight`), pruned with its channel. */
export interface PReluNode extends NodeBase { op: 'prelu'; channels: number }

export type NodeDef = InputNode | Conv2dNode | BatchNormNode | LinearNode | PoolNode | ConcatNode | SimpleNode | ScaledActNode | PReluNode;
export type OpType = NodeDef['op'];

export const OP_TYPES: readonly OpType[] = [
  'input', 'conv2d', 'batchnorm', 'linear', 'maxpool', 'avgpool', 'concat', 'relu', 'relu6', 'add', 'gap', 'flatten', 'identity',
  'sigmoid', 'hardsigmoid', 'hardswish', 'silu', 'leakyrelu', 'prelu', 'mul', 'softmax',
];

export interface ModelGraph {
  /** Architecture name, e.g. 'resnet20'. */
  name: string;
  /** Nodes in topological order; exactly one 'input' node, first. */
  nodes: NodeDef[];
  /** Name of the node whose output is the model output. */
  output: string;
}

/** Parameters and buffers (BN running statistics) by name. */
export type Params = Record<string, Tensor>;

/** Parameter names a node owns, by role. Buffers are flagged: they are not trained. */
export function paramNames(node: NodeDef): { role: string; name: string; buffer: boolean }[] {
  const p = (role: string, buffer = false) => ({ role, name: `${node.name}.${role}`, buffer });
  switch (node.op) {
    case 'conv2d':
    case 'linear':
      return node.bias ? [p('weight'), p('bias')] : [p('weight')];
    case 'batchnorm':
      return [...(node.affine ? [p('weight'), p('bias')] : []), p('running_mean', true), p('running_var', true)];
    case 'prelu':
      return [p('weight')];
    default:
      return [];
  }
}

/** Shapes of a node's parameters (per paramNames). */
export function paramShapes(node: NodeDef): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const { role, name } of paramNames(node)) {
    if (node.op === 'conv2d') {
      out[name] = role === 'weight' ? [node.outChannels, node.inChannels / node.groups, node.kernel[0], node.kernel[1]] : [node.outChannels];
    } else if (node.op === 'linear') {
      out[name] = role === 'weight' ? [node.outFeatures, node.inFeatures] : [node.outFeatures];
    } else if (node.op === 'batchnorm' || node.op === 'prelu') {
      out[name] = [node.channels];
    }
  }
  return out;
}

export class GraphError extends MetapruneError {
  constructor(message: string) {
    super('graph', message);
    this.name = 'GraphError';
  }
}

/** Index of the graph: node by name, consumers of each node. */
export interface GraphIndex {
  byName: Map<string, NodeDef>;
  consumers: Map<string, NodeDef[]>;
}

export function indexGraph(g: ModelGraph): GraphIndex {
  const byName = new Map<string, NodeDef>();
  const consumers = new Map<string, NodeDef[]>();
  for (const n of g.nodes) {
    if (byName.has(n.name)) throw new GraphError(`model '${g.name}': duplicate node name '${n.name}'`);
    for (const i of n.inputs) {
      if (!byName.has(i)) throw new GraphError(`model '${g.name}': node '${n.name}' (${n.op}) reads '${i}', which is not defined before it`);
      consumers.get(i)!.push(n);
    }
    byName.set(n.name, n);
    consumers.set(n.name, []);
  }
  if (!byName.has(g.output)) throw new GraphError(`model '${g.name}': output '${g.output}' is not a node`);
  return { byName, consumers };
}

export function inputNode(g: ModelGraph): InputNode {
  const n = g.nodes[0];
  if (n === undefined || n.op !== 'input') throw new GraphError(`model '${g.name}': the first node must be the input`);
  return n;
}

/** Deep copy of a graph (nodes are plain data). */
export function cloneGraph(g: ModelGraph): ModelGraph {
  return JSON.parse(JSON.stringify(g)) as ModelGraph;
}

/** Trainable parameter names (no buffers), in node order. */
export function trainableNames(g: ModelGraph): string[] {
  return g.nodes.flatMap((n) => paramNames(n).filter((p) => !p.buffer).map((p) => p.name));
}

/** All parameter and buffer names, in node order. */
export function allParamNames(g: ModelGraph): string[] {
  return g.nodes.flatMap((n) => paramNames(n).map((p) => p.name));
}
