/**
 * The metanetwork: network θ → neural graph → GNN (gnn.ts) → neural graph → network θ', in one
 * forward pass on the engine. θ is a constant input; θ' is on the tape as a function of the GNN
 * parameters φ, so a loss on the generated network back-propagates into φ (pass traced φ leaves, or
 * use valueAndGrad/vjp over `metanet.params`).
 */
import type { DType } from '../tensor/tensor.js';
import type { ModelGraph, Params } from '../ir/graph.js';
import type { OptimizerState } from '../train/optim.js';
import { edgeMask, fromGraph, nodeMask, toGraph, type NeuralGraph } from '../graph/convert.js';
import { EDGE_DIM, NODE_DIM } from '../graph/layout.js';
import { DEFAULT_GNN_CONFIG, gnnForward, gnnParamCount, initGnnParams, validateGnnConfig, type GnnConfig, type GnnParams } from './gnn.js';
import { metanetCheckpointExists, readMetanetFile, writeMetanetFile } from './metanet-io.js';
import type { LoadTensorOptions } from '../io/tensor-file.js';

/** Hyper-parameters: L layers, hidden width H, residual scale ε, init seed (and the float dtype). */
export interface MetanetConfig {
  layers: number;
  hidden: number;
  eps: number;
  seed: number;
  dtype?: DType;
}

export type MetanetParams = GnnParams;

/** The full GNN config of a metanetwork over the 9-d node / 9-d edge layout of src/graph. */
export function resolveMetanetConfig(c: Partial<MetanetConfig> = {}): GnnConfig {
  const cfg: GnnConfig = {
    layers: c.layers ?? DEFAULT_GNN_CONFIG.layers,
    hidden: c.hidden ?? DEFAULT_GNN_CONFIG.hidden,
    eps: c.eps ?? DEFAULT_GNN_CONFIG.eps,
    seed: c.seed ?? DEFAULT_GNN_CONFIG.seed,
    nodeDim: NODE_DIM,
    edgeDim: EDGE_DIM,
    dtype: c.dtype ?? 'float32',
  };
  validateGnnConfig(cfg);
  return cfg;
}

/** Runs the GNN on a neural graph; returns a graph of the same structure with the new features. */
export function metanetTransform(phi: MetanetParams, config: GnnConfig, neural: NeuralGraph): NeuralGraph {
  const dtype = config.dtype;
  const out = gnnForward(phi, config, {
    nodeFeatures: neural.nodeFeatures,
    edgeFeatures: neural.edgeFeatures,
    edgeOut: neural.edgeOut,
    edgeIn: neural.edgeIn,
    nodeMask: nodeMask(neural, dtype),
    edgeMask: edgeMask(neural, dtype),
  });
  return { ...neural, nodeFeatures: out.nodeFeatures, edgeFeatures: out.edgeFeatures };
}

/**
 * θ' = M_φ(θ): the generated parameters for `graph` (same names as `params`). Weights, biases and
 * BN γ/β are tape tensors depending on φ; BN running statistics are copies of θ's.
 */
export function metanetApply(phi: MetanetParams, config: GnnConfig, graph: ModelGraph, params: Params): Params {
  const neural = toGraph(graph, params);
  return fromGraph(metanetTransform(phi, config, neural), graph, params);
}

export class Metanet {
  readonly config: GnnConfig;
  /** φ by name; optimizers update these tensors in place. */
  params: MetanetParams;

  constructor(config: Partial<MetanetConfig> = {}, params?: MetanetParams) {
    this.config = resolveMetanetConfig(config);
    this.params = params ?? initGnnParams(this.config);
  }

  /** θ' = M_φ(θ) with φ = `phi` (default: this metanetwork's own parameters). */
  apply(graph: ModelGraph, params: Params, phi: MetanetParams = this.params): Params {
    return metanetApply(phi, this.config, graph, params);
  }

  /** The GNN on a neural graph (features replaced, structure shared). */
  transform(neural: NeuralGraph, phi: MetanetParams = this.params): NeuralGraph {
    return metanetTransform(phi, this.config, neural);
  }

  numParams(): number {
    return gnnParamCount(this.config);
  }

  /** A deep copy (fresh parameter storage). */
  clone(): Metanet {
    const p: MetanetParams = {};
    for (const k of Object.keys(this.params)) p[k] = this.params[k].clone();
    return new Metanet(this.config, p);
  }
}

export interface LoadedMetanet {
  metanet: Metanet;
  /** Metadata saved with the checkpoint (e.g. { epoch, reg }). */
  meta: Record<string, unknown>;
  optimizer: OptimizerState | null;
}

/** Saves the metanetwork (config in the metadata) as `<path>.json` + `<path>.bin`, atomically. */
export function saveMetanet(path: string, metanet: Metanet, meta: Record<string, unknown> = {}, optimizer?: OptimizerState | null): void {
  writeMetanetFile(path, metanet.config, metanet.params, meta, optimizer);
}

export function loadMetanet(path: string, opts: LoadTensorOptions = {}): LoadedMetanet {
  const f = readMetanetFile(path, opts);
  return { metanet: new Metanet(f.config, f.params), meta: f.meta, optimizer: f.optimizer };
}

export { metanetCheckpointExists };
