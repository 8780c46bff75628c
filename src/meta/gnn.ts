/**
 * The metanetwork GNN of Meta Pruning (method.md §2, reference `nn/GNN.py::MyGNN`), on the engine
 * with segment reductions over the edge list (generic in the architecture of the input network).
 *
 *   h = nodeEnc(x)                      Linear(nodeDim, H)
 *   e = edgeEnc(e0)                     Linear(edgeDim, H)
 *   s = [+1]·⌊H/2⌋ ++ [−1]·⌈H/2⌉        edgeInverter (marks the direction)
 *   repeat L times (conv_l, shared by both directions):
 *     hn = LayerNorm(h)                 (no affine)
 *     n1, e1 = conv_l(hn, edges out→in, e)       messages from the deeper (out-channel) node to the in-channel node
 *     n2, e2 = conv_l(hn, edges in→out, s ⊙ e)   reversed edges, sign-flipped half of the edge channels
 *     h = h + n1 + n2;  e = e + e1 + s ⊙ e2
 *   node' = x  + ε · mask_n ⊙ nodeDec(h)     nodeDec = LN → Linear(H,H) → SiLU → Linear(H, nodeDim)
 *   edge' = e0 + ε · mask_e ⊙ edgeDec(e)     edgeDec likewise with edgeDim
 *
 *   conv(h, src→dst, e):  a = Lin1(h), z = Lin2(h), Lin = Linear(H,H) + SiLU
 *     m_e  = z[dst] ⊙ a[src] ⊙ e                          one message per edge
 *     agg  = [mean, std, max, min] of m over each node's incoming edges (empty → 0)
 *            std = sqrt(clamp(E[m²] − E[m]², 1e-5)), set to 0 where ≤ sqrt(1e-5) (PyG StdAggregation)
 *     n    = downlin(agg)                                 Linear(4H, H)
 *     e'   = Lin3(h)[src] ⊙ Lin4(h)[dst] ⊙ e
 *
 * The gathers, products and the four aggregations run as the fused ops of gnn-ops.ts (tested equal
 * to their compositions of engine ops); everything else is engine ops, so φ gets exact gradients.
 * The masks restrict the residual edit to entries backed by trainable parameters (identity edges,
 * 1×1 padding and BN running statistics pass through unchanged); without masks every entry changes.
 * Parameters are PyTorch-initialized (U(±1/√fan_in) for weight and bias) from a seeded Rng, and the
 * last Linear of both decoders is scaled by 0.1 so the output starts close to the input.
 */
import { MetapruneError, ValueError } from '../errors.js';
import { Tensor, allocBuf, type DType } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';
import { add, mul, scale, silu } from '../tensor/ops/elementwise.js';
import { linear } from '../tensor/ops/matmul.js';
import { layerNorm } from '../tensor/ops/norm.js';
import { gatherMul3, pnaAggregate } from './gnn-ops.js';

export interface GnnConfig {
  /** Message-passing layers L. */
  layers: number;
  /** Hidden width H. */
  hidden: number;
  /** Residual scale ε of the outputs. */
  eps: number;
  /** Seed of the parameter initialization. */
  seed: number;
  /** Node / edge feature widths (9 / 9 for the layout of src/graph). */
  nodeDim: number;
  edgeDim: number;
  dtype: DType;
}

export const DEFAULT_GNN_CONFIG: GnnConfig = { layers: 4, hidden: 32, eps: 0.03, seed: 0, nodeDim: 9, edgeDim: 9, dtype: 'float32' };

/** GNN parameters by name (PyTorch-style `<module>.weight` / `<module>.bias`). */
export type GnnParams = Record<string, Tensor>;

/** Input of the GNN: features plus the edge list (row 0 = out-channel node, row 1 = in-channel node). */
export interface GnnInput {
  nodeFeatures: Tensor;
  edgeFeatures: Tensor;
  edgeOut: Int32Array;
  edgeIn: Int32Array;
  /** Optional 0/1 masks of the same shapes as the features: where the residual edit applies. */
  nodeMask?: Tensor | null;
  edgeMask?: Tensor | null;
}

export interface GnnOutput {
  nodeFeatures: Tensor;
  edgeFeatures: Tensor;
}

/** Linear layers of the GNN in initialization order: [name, in, out]. */
export function gnnLayers(cfg: Pick<GnnConfig, 'layers' | 'hidden' | 'nodeDim' | 'edgeDim'>): [string, number, number][] {
  const H = cfg.hidden;
  const out: [string, number, number][] = [['nodeEnc', cfg.nodeDim, H], ['edgeEnc', cfg.edgeDim, H]];
  for (let l = 0; l < cfg.layers; l++) {
    for (const k of ['lin1', 'lin2', 'lin3', 'lin4']) out.push([`convs.${l}.${k}`, H, H]);
    out.push([`convs.${l}.downlin`, 4 * H, H]);
  }
  out.push(['nodeDec.lin1', H, H], ['nodeDec.lin2', H, cfg.nodeDim], ['edgeDec.lin1', H, H], ['edgeDec.lin2', H, cfg.edgeDim]);
  return out;
}

/** Decoder output layers, scaled by this factor at initialization. */
export const DECODER_INIT_SCALE = 0.1;

export function validateGnnConfig(cfg: GnnConfig): void {
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!int(cfg.layers, 0)) throw new ValueError(`metanet config: layers must be an integer ≥ 0, got ${cfg.layers}`);
  if (!int(cfg.hidden, 1)) throw new ValueError(`metanet config: hidden must be an integer ≥ 1, got ${cfg.hidden}`);
  if (!int(cfg.nodeDim, 1) || !int(cfg.edgeDim, 1)) throw new ValueError(`metanet config: nodeDim/edgeDim must be integers ≥ 1, got ${cfg.nodeDim}/${cfg.edgeDim}`);
  if (!Number.isFinite(cfg.eps)) throw new ValueError(`metanet config: eps must be a finite number, got ${cfg.eps}`);
  if (!Number.isInteger(cfg.seed)) throw new ValueError(`metanet config: seed must be an integer, got ${cfg.seed}`);
}

/** PyTorch nn.Linear default init for every layer; the decoders' last layers × 0.1. */
export function initGnnParams(cfg: GnnConfig): GnnParams {
  validateGnnConfig(cfg);
  const rng = new Rng(cfg.seed);
  const params: GnnParams = {};
  for (const [name, fin, fout] of gnnLayers(cfg)) {
    const bound = 1 / Math.sqrt(fin);
    const s = name === 'nodeDec.lin2' || name === 'edgeDec.lin2' ? DECODER_INIT_SCALE : 1;
    const w = allocBuf(cfg.dtype, fout * fin);
    for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-bound, bound) * s;
    const b = allocBuf(cfg.dtype, fout);
    for (let i = 0; i < b.length; i++) b[i] = rng.uniform(-bound, bound) * s;
    params[`${name}.weight`] = new Tensor(w, [fout, fin]);
    params[`${name}.bias`] = new Tensor(b, [fout]);
  }
  return params;
}

/** Number of scalar parameters of a GNN with this config. */
export function gnnParamCount(cfg: Pick<GnnConfig, 'layers' | 'hidden' | 'nodeDim' | 'edgeDim'>): number {
  return gnnLayers(cfg).reduce((p, [, i, o]) => p + i * o + o, 0);
}

/** The edgeInverter buffer s = [+1]·⌊H/2⌋ ++ [−1]·⌈H/2⌉. */
export function edgeInverter(hidden: number, dtype: DType = 'float32'): Tensor {
  const b = allocBuf(dtype, hidden);
  for (let i = 0; i < hidden; i++) b[i] = i < Math.floor(hidden / 2) ? 1 : -1;
  return new Tensor(b, [hidden]);
}

function param(phi: GnnParams, name: string): Tensor {
  const t = phi[name];
  if (t === undefined) throw new MetapruneError('metanet', `metanet: missing parameter '${name}'`);
  return t;
}

function lin(phi: GnnParams, name: string, x: Tensor): Tensor {
  return linear(x, param(phi, `${name}.weight`), param(phi, `${name}.bias`));
}

/** Messages into `dst` nodes aggregated by mean/std/max/min and mixed by downlin: [N, H]. */
function aggregate(phi: GnnParams, prefix: string, m: Tensor, dst: Int32Array, N: number): Tensor {
  return lin(phi, `${prefix}.downlin`, pnaAggregate(m, dst, N));
}

function decode(phi: GnnParams, prefix: string, h: Tensor): Tensor {
  return lin(phi, `${prefix}.lin2`, silu(lin(phi, `${prefix}.lin1`, layerNorm(h))));
}

function checkInput(g: GnnInput, cfg: GnnConfig): void {
  const { nodeFeatures: x, edgeFeatures: e0, edgeOut, edgeIn } = g;
  if (x.rank !== 2 || x.shape[1] !== cfg.nodeDim) throw new MetapruneError('metanet', `metanet: node features must be [N, ${cfg.nodeDim}], got [${x.shape.join(', ')}]`);
  if (e0.rank !== 2 || e0.shape[1] !== cfg.edgeDim) throw new MetapruneError('metanet', `metanet: edge features must be [E, ${cfg.edgeDim}], got [${e0.shape.join(', ')}]`);
  const E = e0.shape[0];
  if (edgeOut.length !== E || edgeIn.length !== E) throw new MetapruneError('metanet', `metanet: ${E} edge features but ${edgeOut.length}/${edgeIn.length} edge endpoints`);
  if (x.dtype !== cfg.dtype || e0.dtype !== cfg.dtype) {
    throw new MetapruneError('metanet', `metanet: features are ${x.dtype}/${e0.dtype} but the metanetwork is ${cfg.dtype}`);
  }
  if (g.nodeMask && (g.nodeMask.shape[0] !== x.shape[0] || g.nodeMask.shape[1] !== x.shape[1])) throw new MetapruneError('metanet', 'metanet: node mask shape differs from the node features');
  if (g.edgeMask && (g.edgeMask.shape[0] !== e0.shape[0] || g.edgeMask.shape[1] !== e0.shape[1])) throw new MetapruneError('metanet', 'metanet: edge mask shape differs from the edge features');
}

/**
 * One forward pass of the GNN. Differentiable in `phi` (and in the features, if they are on the
 * tape); the outputs are `x + ε·mask⊙dec(h)` and `e0 + ε·mask⊙dec(e)`.
 */
export function gnnForward(phi: GnnParams, cfg: GnnConfig, g: GnnInput): GnnOutput {
  checkInput(g, cfg);
  const x = g.nodeFeatures;
  const e0 = g.edgeFeatures;
  const N = x.shape[0];
  const out = g.edgeOut; // row 0: out-channel (deeper) node
  const inn = g.edgeIn; // row 1: in-channel node
  const s = edgeInverter(cfg.hidden, cfg.dtype);
  let h = lin(phi, 'nodeEnc', x);
  let e = lin(phi, 'edgeEnc', e0);
  for (let l = 0; l < cfg.layers; l++) {
    const p = `convs.${l}`;
    const hn = layerNorm(h);
    const a = silu(lin(phi, `${p}.lin1`, hn));
    const z = silu(lin(phi, `${p}.lin2`, hn));
    const q3 = silu(lin(phi, `${p}.lin3`, hn));
    const q4 = silu(lin(phi, `${p}.lin4`, hn));
    // Direction 1 (PyG flow source_to_target on edge_index): source j = out node, target i = in node.
    //   m = z[in] ⊙ a[out] ⊙ e;  e1 = Lin3(h)[out] ⊙ Lin4(h)[in] ⊙ e
    const n1 = aggregate(phi, p, gatherMul3(z, inn, a, out, e), inn, N);
    const e1 = gatherMul3(q3, out, q4, inn, e);
    // Direction 2 (edge_index[[1, 0]] with s ⊙ e): source = in node, target = out node.
    //   m = z[out] ⊙ a[in] ⊙ (s ⊙ e);  e2 = Lin3(h)[in] ⊙ Lin4(h)[out] ⊙ (s ⊙ e)
    const n2 = aggregate(phi, p, gatherMul3(z, out, a, inn, e, s), out, N);
    // The update adds s ⊙ e2 = Lin3(h)[in] ⊙ Lin4(h)[out] ⊙ e exactly, since s ⊙ s = 1.
    const se2 = gatherMul3(q3, inn, q4, out, e);
    h = add(add(h, n1), n2);
    e = add(add(e, e1), se2);
  }
  let dn = decode(phi, 'nodeDec', h);
  let de = decode(phi, 'edgeDec', e);
  if (g.nodeMask) dn = mul(dn, g.nodeMask);
  if (g.edgeMask) de = mul(de, g.edgeMask);
  return { nodeFeatures: add(x, scale(dn, cfg.eps)), edgeFeatures: add(e0, scale(de, cfg.eps)) };
}
