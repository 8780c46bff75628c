/**
 * Writes one metanetwork problem for the PyTorch twin (tools/metanet_twin.py) as a json+bin tensor
 * file (src/io/tensor-file.ts): φ, the neural graph of a network (features, edge list, masks), the
 * network's IR and the map θ' = gather(flat node' ++ flat edge' features) of every trainable
 * parameter (graph/plan.ts), BN running statistics, the regularizer's per-element coefficients M at
 * θ' (so the twin's ∇R = λ·M⊙θ' equals regularizerGrad's) and a seeded cotangent for the outputs.
 * Integers (edge endpoints, gather indices) are stored as float32: exact below 2^24.
 */
import { saveTensorFile } from '../src/io/tensor-file.js';
import { Tensor, randn } from '../src/tensor/tensor.js';
import { Rng } from '../src/tensor/random.js';
import type { ModelGraph, Params } from '../src/ir/graph.js';
import { graphPlan } from '../src/graph/plan.js';
import { EDGE_DIM, NODE_DIM } from '../src/graph/layout.js';
import { edgeMask, nodeMask, toGraph } from '../src/graph/convert.js';
import { getGroups, regularizerCoefficients } from '../src/prune/index.js';
import type { Metanet } from '../src/meta/metanet.js';

export const TWIN_FORMAT = 'metaprune-metanet-twin';

export interface TwinCase {
  numNodes: number;
  numEdges: number;
  /** Cotangents of node' [N, 9] and edge' [E, 9] (the twin's `check` contracts the outputs with them). */
  cotNode: Tensor;
  cotEdge: Tensor;
}

/** Flat indices into [node' (N·9) ++ edge' (E·9)] of every trainable parameter, in weight order. */
export function gatherMap(graph: ModelGraph): Map<string, { shape: number[]; index: Int32Array }> {
  const plan = graphPlan(graph);
  const base = plan.numNodes * NODE_DIM;
  const out = new Map<string, { shape: number[]; index: Int32Array }>();
  for (const b of plan.edgeBlocks) {
    if (b.kind === 'identity') continue;
    const index = b.kind === 'conv3x3'
      ? Int32Array.from({ length: b.numEdges * EDGE_DIM }, (_, i) => base + b.edgeOffset * EDGE_DIM + i)
      : b.centreIndex!.map((i) => base + i);
    out.set(b.param!, { shape: [...b.shape], index });
  }
  for (const p of plan.nodeParams) if (p.trainable) out.set(p.param, { shape: [...plan.paramShapes.get(p.param)!], index: p.index.slice() });
  return out;
}

const f32 = (a: ArrayLike<number>): Float32Array => Float32Array.from(a);

/** Writes `<path>.json` + `<path>.bin`; `generated` is θ' (for the regularizer's coefficients). */
export function exportTwinCase(path: string, metanet: Metanet, graph: ModelGraph, theta: Params, generated: Params, opts: { reg?: number; alpha?: number; seed?: number } = {}): TwinCase {
  const neural = toGraph(graph, theta);
  const rng = new Rng(opts.seed ?? 7);
  const cotNode = randn([neural.numNodes, NODE_DIM], rng);
  const cotEdge = randn([neural.numEdges, EDGE_DIM], rng);
  const tensors: Record<string, Tensor | Float32Array> = {};
  const paramNames = Object.keys(metanet.params);
  for (const k of paramNames) tensors[`param/${k}`] = metanet.params[k];
  tensors.nodeFeatures = neural.nodeFeatures;
  tensors.edgeFeatures = neural.edgeFeatures;
  tensors.nodeMask = nodeMask(neural);
  tensors.edgeMask = edgeMask(neural);
  tensors.edgeOut = f32(neural.edgeOut);
  tensors.edgeIn = f32(neural.edgeIn);
  tensors.cotNode = cotNode;
  tensors.cotEdge = cotEdge;
  const gather = gatherMap(graph);
  for (const [name, g] of gather) tensors[`gather/${name}`] = f32(g.index);
  for (const [name, t] of Object.entries(theta)) if (!gather.has(name)) tensors[`theta/${name}`] = t;
  for (const [name, m] of regularizerCoefficients(getGroups(graph), generated, { alpha: opts.alpha ?? 16 })) tensors[`regcoef/${name}`] = f32(m);
  const input = graph.nodes[0];
  const last = [...graph.nodes].reverse().find((n) => n.op === 'linear');
  const meta = {
    config: metanet.config,
    paramNames,
    graph: { nodes: graph.nodes, output: graph.output },
    gather: [...gather].map(([param, g]) => ({ param, shape: g.shape })),
    inputShape: input.op === 'input' ? input.shape : [],
    numClasses: last?.op === 'linear' ? last.outFeatures : 10,
    reg: opts.reg ?? 1,
  };
  saveTensorFile(path, TWIN_FORMAT, meta, tensors);
  return { numNodes: neural.numNodes, numEdges: neural.numEdges, cotNode, cotEdge };
}
