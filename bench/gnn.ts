/**
 * Metanetwork benchmark: one forward + backward of the GNN (L = 4, H = 32) on smallcnn (14×14) and
 * ResNet-20 (32×32) through to the generated network's cross-entropy gradient at 256 images.
 * Timed in the two-stage form meta-training uses (θ' = M_φ(θ) on the tape → ∇θ' CE by ordinary
 * backprop → one VJP into φ), with the phases reported separately, plus the one-pass
 * valueAndGrad of the same loss. Run directly (`node --import tsx bench/gnn.ts`) to print a table;
 * `benchGnn()` returns the rows, `formatGnn()` the table.
 */
import { pathToFileURL } from 'node:url';
import '../src/tensor/backends/index.js';
import { getBackend } from '../src/tensor/registry.js';
import { buildModel, modelEntry } from '../src/models/index.js';
import { initParams } from '../src/ir/init.js';
import { forward } from '../src/ir/forward.js';
import { trainableNames, type Params } from '../src/ir/graph.js';
import { Rng } from '../src/tensor/random.js';
import { randn } from '../src/tensor/tensor.js';
import { backward, valueAndGrad } from '../src/tensor/autograd.js';
import { crossEntropy } from '../src/tensor/ops/softmax.js';
import { toGraph } from '../src/graph/convert.js';
import { Metanet, type MetanetParams } from '../src/meta/metanet.js';

export interface GnnBenchRow {
  model: string;
  nodes: number;
  edges: number;
  images: number;
  /** toGraph with a cached plan. */
  toGraphMs: number;
  /** θ' = M_φ(θ) on the tape (toGraph + GNN + fromGraph). */
  metanetForwardMs: number;
  /** ∇θ' CE of the generated network at `images` images (forward + backward, BN in eval mode). */
  cnnForwardBackwardMs: number;
  /** The VJP of ∇θ' CE through the metanetwork into φ. */
  metanetBackwardMs: number;
  /** Sum of the three phases above. */
  totalMs: number;
  /** valueAndGrad over φ of CE(forward(M_φ(θ))) in one pass. */
  onePassMs: number;
  /** Peak resident set size of the process so far, in MB. */
  peakRssMB: number;
}

const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;

function best<T>(reps: number, fn: () => T): { ms: number; value: T } {
  let ms = Infinity;
  let value!: T;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    value = fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, value };
}

function benchModel(name: string, images: number, reps: number): GnnBenchRow {
  const g = buildModel(name);
  const theta = initParams(g, 1, modelEntry(name).init);
  const inShape = g.nodes[0].op === 'input' ? g.nodes[0].shape : [];
  const rng = new Rng(2);
  const x = randn([images, ...inShape], rng);
  const labels = Array.from({ length: images }, () => rng.int(10));
  const metanet = new Metanet({ layers: 4, hidden: 32, eps: 0.03, seed: 0 });
  const names = trainableNames(g);
  const ng = toGraph(g, theta);
  const toGraphMs = best(reps, () => toGraph(g, theta)).ms;

  let metanetForwardMs = Infinity, cnnMs = Infinity, backMs = Infinity, totalMs = Infinity;
  for (let r = 0; r < reps; r++) {
    const leaves: MetanetParams = {};
    for (const [k, t] of Object.entries(metanet.params)) {
      const l = t.detach();
      l.requiresGrad = true;
      leaves[k] = l;
    }
    const t0 = performance.now();
    const gen = metanet.apply(g, theta, leaves);
    const t1 = performance.now();
    const trainable: Params = {};
    for (const n of names) trainable[n] = gen[n].detach();
    const { grads } = valueAndGrad((p: Params) => crossEntropy(forward(g, { ...gen, ...p }, x), labels))(trainable);
    const t2 = performance.now();
    backward(names.map((n) => gen[n]), names.map((n) => grads[n].data), Object.values(leaves));
    const t3 = performance.now();
    metanetForwardMs = Math.min(metanetForwardMs, t1 - t0);
    cnnMs = Math.min(cnnMs, t2 - t1);
    backMs = Math.min(backMs, t3 - t2);
    totalMs = Math.min(totalMs, t3 - t0);
  }
  const onePassMs = best(reps, () =>
    valueAndGrad((phi: MetanetParams) => crossEntropy(forward(g, metanet.apply(g, theta, phi), x), labels))(metanet.params)).ms;
  return {
    model: name, nodes: ng.numNodes, edges: ng.numEdges, images, toGraphMs,
    metanetForwardMs, cnnForwardBackwardMs: cnnMs, metanetBackwardMs: backMs, totalMs, onePassMs, peakRssMB: peakRssMB(),
  };
}

export async function benchGnn(opts: { images?: number; reps?: number; models?: string[] } = {}): Promise<GnnBenchRow[]> {
  const images = opts.images ?? 256;
  const reps = opts.reps ?? 2;
  return (opts.models ?? ['smallcnn', 'resnet20']).map((m) => benchModel(m, images, reps));
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function formatGnn(rows: GnnBenchRow[]): string {
  const lines = [
    `metanetwork L=4 H=32, backend ${getBackend()}, best of 2 (ms)`,
    'model      nodes  edges  imgs  toGraph  M fwd  CNN f+b  M bwd  total  one-pass  peakRSS(MB)',
  ];
  for (const r of rows) {
    lines.push(
      `${r.model.padEnd(9)} ${String(r.nodes).padStart(6)} ${String(r.edges).padStart(6)} ${String(r.images).padStart(5)} ` +
      `${fmt(r.toGraphMs).padStart(8)} ${fmt(r.metanetForwardMs).padStart(6)} ${fmt(r.cnnForwardBackwardMs).padStart(8)} ` +
      `${fmt(r.metanetBackwardMs).padStart(6)} ${fmt(r.totalMs).padStart(6)} ${fmt(r.onePassMs).padStart(9)} ${fmt(r.peakRssMB).padStart(12)}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatGnn(await benchGnn()));
}
