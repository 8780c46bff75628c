/**
 * Network ↔ neural graph. `toGraph` gathers parameters into node/edge features with the cached index
 * plan; `fromGraph` reads them back with differentiable engine ops (slice, indexSelect, reshape), so
 * when the features are outputs of the metanetwork the generated parameters stay on the tape and
 * gradients flow back into it. Both use the same plan, so `fromGraph(toGraph(θ)) === θ` bit for bit.
 */
import { Tensor, allocBuf, type DType } from '../tensor/tensor.js';
import { indexSelect, slice } from '../tensor/ops/shape.js';
import { reshape } from '../tensor/ops/reshape.js';
import type { ModelGraph, Params } from '../ir/graph.js';
import { NeuralGraphError } from './errors.js';
import { EDGE_CENTRE, EDGE_DIM, NODE_DEFAULTS, NODE_DIM } from './layout.js';
import { graphPlan, type EdgeBlock, type GraphPlan, type NodeBlock } from './plan.js';

/** A network as a graph: one node per channel, one edge per (out-channel, in-channel) kernel slice. */
export interface NeuralGraph {
  numNodes: number;
  numEdges: number;
  /** [N, 9], layout in layout.ts (NODE_FEATURES). */
  nodeFeatures: Tensor;
  /** [E, 9]: 3×3 kernel slices; 1×1/linear weights and identity edges at the centre (col 4). */
  edgeFeatures: Tensor;
  /** [2·E] = [2, E] row-major: row 0 = out-channel node, row 1 = in-channel node; out-major, in-minor. */
  edgeIndex: Int32Array;
  /** Row 0 of edgeIndex (out-channel node of each edge). */
  edgeOut: Int32Array;
  /** Row 1 of edgeIndex (in-channel node of each edge). */
  edgeIn: Int32Array;
  nodeBlocks: readonly NodeBlock[];
  edgeBlocks: readonly EdgeBlock[];
  /** The index plan (shared by every graph of this architecture; do not mutate). */
  plan: GraphPlan;
}

/** Features only: what a metanetwork produces, and what `fromGraph` needs. */
export interface GraphFeatures {
  nodeFeatures: Tensor;
  edgeFeatures: Tensor;
}

function paramOf(plan: GraphPlan, params: Params, name: string, what: string): Tensor {
  const t = params[name];
  if (t === undefined) throw new NeuralGraphError(`${what} of '${plan.model}': missing parameter '${name}'`);
  const want = plan.paramShapes.get(name)!;
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new NeuralGraphError(`${what} of '${plan.model}': parameter '${name}' has shape [${t.shape.join(', ')}], the graph expects [${want.join(', ')}]`);
  }
  return t;
}

function paramsDtype(plan: GraphPlan, params: Params, what: string): DType {
  let dtype: DType | null = null;
  for (const name of plan.paramShapes.keys()) {
    const t = paramOf(plan, params, name, what);
    if (dtype === null) dtype = t.dtype;
    else if (t.dtype !== dtype) throw new NeuralGraphError(`${what} of '${plan.model}': parameter '${name}' is ${t.dtype}, others are ${dtype}`);
  }
  return dtype ?? 'float32';
}

/**
 * The neural graph of a network. Features are fresh tensors without autograd history (the source
 * network is a constant input of the metanetwork); their dtype is the parameters' dtype.
 */
export function toGraph(graph: ModelGraph, params: Params): NeuralGraph {
  const plan = graphPlan(graph);
  const what = 'toGraph';
  const dtype = paramsDtype(plan, params, what);
  const N = plan.numNodes;
  const E = plan.numEdges;
  const nf = allocBuf(dtype, N * NODE_DIM);
  for (let n = 0; n < N; n++) for (let c = 0; c < NODE_DIM; c++) nf[n * NODE_DIM + c] = NODE_DEFAULTS[c];
  for (const p of plan.nodeParams) {
    const src = params[p.param].data;
    const idx = p.index;
    for (let c = 0; c < idx.length; c++) nf[idx[c]] = src[c];
  }
  const ef = allocBuf(dtype, E * EDGE_DIM);
  for (const b of plan.edgeBlocks) {
    if (b.kind === 'identity') {
      for (let e = b.edgeOffset; e < b.edgeOffset + b.numEdges; e++) ef[e * EDGE_DIM + EDGE_CENTRE] = 1;
      continue;
    }
    const w = params[b.param!].data;
    if (b.kind === 'conv3x3') ef.set(w, b.edgeOffset * EDGE_DIM);
    else {
      const idx = b.centreIndex!;
      for (let e = 0; e < idx.length; e++) ef[idx[e]] = w[e];
    }
  }
  return {
    numNodes: N,
    numEdges: E,
    nodeFeatures: new Tensor(nf, [N, NODE_DIM]),
    edgeFeatures: new Tensor(ef, [E, EDGE_DIM]),
    edgeIndex: plan.edgeIndex,
    edgeOut: plan.edgeOut,
    edgeIn: plan.edgeIn,
    nodeBlocks: plan.nodeBlocks,
    edgeBlocks: plan.edgeBlocks,
    plan,
  };
}

export interface FromGraphOptions {
  /**
   * Where BN running statistics come from: 'template' (default; the reference behaviour — they are
   * inputs of the metanetwork, never outputs) or 'graph' (read from node columns 2, 3, 7, 8, detached).
   */
  buffers?: 'template' | 'graph';
}

/**
 * The parameters encoded by `features` for the architecture `graph`: conv/linear weights, biases and
 * BN γ/β are read from the features with differentiable ops (gradients flow into `features`); BN
 * running statistics are copied from `template` (fresh copies, so training the result in BN training
 * mode never writes into the template). Any other template entry is copied. Identity-edge features
 * and padding around 1×1/linear weights are ignored.
 */
export function fromGraph(features: GraphFeatures, graph: ModelGraph, template: Params, opts: FromGraphOptions = {}): Params {
  const plan = graphPlan(graph);
  const what = 'fromGraph';
  const { nodeFeatures: nfT, edgeFeatures: efT } = features;
  const N = plan.numNodes;
  const E = plan.numEdges;
  if (nfT.rank !== 2 || nfT.shape[0] !== N || nfT.shape[1] !== NODE_DIM) {
    throw new NeuralGraphError(`${what} of '${plan.model}': node features have shape [${nfT.shape.join(', ')}], expected [${N}, ${NODE_DIM}]`);
  }
  if (efT.rank !== 2 || efT.shape[0] !== E || efT.shape[1] !== EDGE_DIM) {
    throw new NeuralGraphError(`${what} of '${plan.model}': edge features have shape [${efT.shape.join(', ')}], expected [${E}, ${EDGE_DIM}]`);
  }
  if (nfT.dtype !== efT.dtype) throw new NeuralGraphError(`${what} of '${plan.model}': node features are ${nfT.dtype}, edge features ${efT.dtype}`);
  const dtype = nfT.dtype;
  const nf = reshape(nfT, [N * NODE_DIM]);
  const ef = reshape(efT, [E * EDGE_DIM]);
  const generated = new Map<string, Tensor>();
  for (const b of plan.edgeBlocks) {
    if (b.kind === 'identity') continue;
    const flat = b.kind === 'conv3x3'
      ? slice(ef, 0, b.edgeOffset * EDGE_DIM, (b.edgeOffset + b.numEdges) * EDGE_DIM)
      : indexSelect(ef, 0, b.centreIndex!);
    generated.set(b.param!, reshape(flat, b.shape));
  }
  const fromTemplate = (name: string): Tensor => {
    const t = paramOf(plan, template, name, what);
    return t.dtype === dtype ? t.clone() : t.to(dtype);
  };
  for (const p of plan.nodeParams) {
    if (p.trainable) generated.set(p.param, indexSelect(nf, 0, p.index));
    else if ((opts.buffers ?? 'template') === 'graph') generated.set(p.param, indexSelect(nf, 0, p.index).detach());
    else generated.set(p.param, fromTemplate(p.param));
  }
  const out: Params = {};
  for (const k of Object.keys(template)) {
    const g = generated.get(k);
    if (g !== undefined) {
      paramOf(plan, template, k, what);
      out[k] = g;
    } else {
      const t = template[k];
      out[k] = t.dtype === dtype ? t.clone() : t.to(dtype);
    }
  }
  for (const [k, t] of generated) if (!(k in out)) out[k] = t;
  return out;
}

const maskCache = new WeakMap<GraphPlan, Map<string, Tensor>>();

function maskTensor(plan: GraphPlan, which: 'node' | 'edge', dtype: DType): Tensor {
  let m = maskCache.get(plan);
  if (m === undefined) {
    m = new Map();
    maskCache.set(plan, m);
  }
  const key = `${which}:${dtype}`;
  let t = m.get(key);
  if (t === undefined) {
    const src = which === 'node' ? plan.nodeMask : plan.edgeMask;
    const buf = allocBuf(dtype, src.length);
    for (let i = 0; i < src.length; i++) buf[i] = src[i];
    t = new Tensor(buf, [which === 'node' ? plan.numNodes : plan.numEdges, which === 'node' ? NODE_DIM : EDGE_DIM]);
    m.set(key, t);
  }
  return t;
}

/** [N, 9] 0/1 mask of node-feature slots backed by trainable parameters (shared; do not mutate). */
export function nodeMask(neural: NeuralGraph | GraphPlan, dtype: DType = 'float32'): Tensor {
  return maskTensor('plan' in neural ? neural.plan : neural, 'node', dtype);
}

/** [E, 9] 0/1 mask of edge-feature entries backed by weights (shared; do not mutate). */
export function edgeMask(neural: NeuralGraph | GraphPlan, dtype: DType = 'float32'): Tensor {
  return maskTensor('plan' in neural ? neural.plan : neural, 'edge', dtype);
}
