/** MACs / parameter counter with a per-layer breakdown (Torch-Pruning conventions, see ops.ts). */
import type { ModelGraph } from './graph.js';
import { inferShapes } from './shapes.js';
import { nodeMacs, nodeParamCount } from './ops.js';

export interface LayerCount {
  name: string;
  op: string;
  outShape: number[];
  macs: number;
  params: number;
}

export interface OpCount {
  macs: number;
  params: number;
  layers: LayerCount[];
}

/** MACs for one sample of `inputShape` (default: the graph's input shape) and trainable parameters. */
export function countOps(g: ModelGraph, inputShape?: readonly number[]): OpCount {
  const shapes = inferShapes(g, inputShape);
  const layers: LayerCount[] = [];
  let macs = 0;
  let params = 0;
  for (const n of g.nodes) {
    const out = shapes.get(n.name)!;
    const m = nodeMacs(n, n.inputs.map((i) => shapes.get(i)!), out);
    const p = nodeParamCount(n);
    macs += m;
    params += p;
    if (m > 0 || p > 0) layers.push({ name: n.name, op: n.op, outShape: out, macs: m, params: p });
  }
  return { macs, params, layers };
}

/** Torch-Pruning style one-liners: `MACs: 127.12 M => 59.88 M (2.12x)`. */
export function formatCount(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)} G`;
  return `${(v / 1e6).toFixed(2)} M`;
}

/** Output width (channels / features) of one conv or linear layer before and after pruning. */
export interface LayerWidth {
  name: string;
  before: number;
  after: number;
}

/** Per-layer output widths of a network and its pruned version (layers matched by name). */
export function layerWidths(before: ModelGraph, after: ModelGraph): LayerWidth[] {
  const width = (g: ModelGraph): Map<string, number> => {
    const m = new Map<string, number>();
    for (const n of g.nodes) if (n.op === 'conv2d') m.set(n.name, n.outChannels); else if (n.op === 'linear') m.set(n.name, n.outFeatures);
    return m;
  };
  const a = width(after);
  return [...width(before)].filter(([name]) => a.has(name)).map(([name, b]) => ({ name, before: b, after: a.get(name)! }));
}
