/**
 * Surgery: builds a NEW, smaller IR graph (channel counts and depthwise group counts updated,
 * shapes re-inferred) and NEW parameters (sliced copies, BN running statistics included) from a
 * removal request `{ [group root]: root output-channel indices }`. Never masks.
 */
import { Tensor, allocBuf } from '../tensor/tensor.js';
import { paramNames, paramShapes, type ModelGraph, type Params } from '../ir/graph.js';
import { inferShapes } from '../ir/shapes.js';
import { PruneError } from './errors.js';
import { buildDependencyGraph, ruleOf, type DependencyGraph } from './depgraph.js';

/** Channels to remove: per group root, the root's output-channel indices (in the current model). */
export type Removal = Readonly<Record<string, readonly number[]>>;

export interface PrunedModel {
  graph: ModelGraph;
  params: Params;
}

/** Marks the classes a removal request deletes, validating it (whole units, known roots, ≥ 1 unit left per group). */
export function removalMask(dg: DependencyGraph, removal: Removal): Uint8Array {
  const mask = new Uint8Array(dg.classGroup.length);
  for (const root of Object.keys(removal)) {
    const chans = removal[root];
    if (chans.length === 0) continue;
    const g = dg.groupByRoot.get(root);
    if (g === undefined) {
      throw new PruneError(`model '${dg.graph.name}': '${root}' is not the root of a prunable group; roots: ${[...dg.groupByRoot.keys()].join(', ')}`);
    }
    const cls = dg.channelClass.get(root)!;
    const seen = new Set<number>();
    const count = new Map<number, number>();
    for (const c of chans) {
      if (!Number.isInteger(c) || c < 0 || c >= cls.length) throw new PruneError(`group '${root}': channel ${c} out of range 0..${cls.length - 1}`);
      if (seen.has(c)) throw new PruneError(`group '${root}': channel ${c} listed twice`);
      seen.add(c);
      const k = cls[c];
      if (dg.classGroup[k] !== g.id) throw new PruneError(`group '${root}': channel ${c} belongs to the group rooted at '${dg.groups[dg.classGroup[k]]?.root ?? 'the model input'}'`);
      count.set(k, (count.get(k) ?? 0) + 1);
    }
    for (const [k, n] of count) {
      const unit = g.rootChannels[dg.classIndex[k]];
      if (n !== unit.length) throw new PruneError(`group '${root}': channels ${unit.join(', ')} must be removed together (grouped conv), got ${n} of them`);
      mask[k] = 1;
    }
    if (count.size >= g.size) throw new PruneError(`group '${root}': removing all ${g.size} channels would empty the group`);
  }
  return mask;
}

/** Copy of `t` keeping only `keep` indices along `axis`. */
export function takeAlong(t: Tensor, axis: number, keep: Int32Array): Tensor {
  const n = t.shape[axis];
  let inner = 1;
  for (let d = axis + 1; d < t.rank; d++) inner *= t.shape[d];
  const outer = n === 0 ? 0 : t.size / (n * inner);
  const m = keep.length;
  const out = allocBuf(t.dtype, outer * m * inner);
  const src = t.data;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const sb = o * n, db = o * m;
      for (let j = 0; j < m; j++) out[db + j] = src[sb + keep[j]];
    }
  } else {
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const s = (o * n + keep[j]) * inner;
        out.set(src.subarray(s, s + inner), (o * m + j) * inner);
      }
    }
  }
  const shape = [...t.shape];
  shape[axis] = m;
  return new Tensor(out, shape);
}

function newChannelCount(dg: DependencyGraph, mask: Uint8Array, name: string): number {
  const cls = dg.channelClass.get(name)!;
  let n = 0;
  for (let i = 0; i < cls.length; i++) if (mask[cls[i]] === 0) n++;
  return n;
}

/** The pruned graph only (no parameters): used to bound the reachable speed-up. */
export function pruneGraph(dg: DependencyGraph, removal: Removal): ModelGraph {
  const mask = removalMask(dg, removal);
  return resizeGraph(dg, mask);
}

function resizeGraph(dg: DependencyGraph, mask: Uint8Array): ModelGraph {
  const g = dg.graph;
  const nodes = g.nodes.map((n) => ruleOf(n).resize(n, n.inputs.map((i) => newChannelCount(dg, mask, i)), newChannelCount(dg, mask, n.name)));
  const out: ModelGraph = { name: g.name, nodes: JSON.parse(JSON.stringify(nodes)) as ModelGraph['nodes'], output: g.output };
  inferShapes(out);
  return out;
}

/**
 * Removes channels: returns a new graph and new params (every tensor a fresh copy). `dg` may be
 * passed when already built for `graph`.
 */
export function applyPruning(graph: ModelGraph, params: Params, removal: Removal, dg: DependencyGraph = buildDependencyGraph(graph)): PrunedModel {
  if (dg.graph !== graph) throw new PruneError('applyPruning: the dependency graph was built for another graph');
  const mask = removalMask(dg, removal);
  const newGraph = resizeGraph(dg, mask);
  const newParams: Params = {};
  graph.nodes.forEach((node, ni) => {
    const names = paramNames(node);
    if (names.length === 0) return;
    const rules = ruleOf(node).slices(node, node.inputs.map((i) => dg.shapes.get(i)!));
    const shapes = paramShapes(newGraph.nodes[ni]);
    const oldShapes = paramShapes(node);
    for (const { role, name } of names) {
      const t = params[name];
      if (t === undefined) throw new PruneError(`node '${node.name}' (${node.op}): missing parameter '${name}'`);
      const had = oldShapes[name];
      if (had.length !== t.rank || had.some((d, i) => d !== t.shape[i])) {
        throw new PruneError(`node '${node.name}' (${node.op}): parameter '${name}' has shape [${t.shape.join(', ')}], the node expects [${had.join(', ')}]`);
      }
      let cur = t;
      const removedByAxis = new Map<number, Set<number>>();
      for (const r of rules) {
        if (r.role !== role) continue;
        const cls = dg.channelClass.get(r.tensor < 0 ? node.name : node.inputs[r.tensor])!;
        let set = removedByAxis.get(r.axis);
        if (set === undefined) removedByAxis.set(r.axis, (set = new Set()));
        for (let i = 0; i < cls.length; i++) if (mask[cls[i]] === 1) set.add(r.index(i));
      }
      for (const [axis, removed] of removedByAxis) {
        if (removed.size === 0) continue;
        const n = cur.shape[axis];
        const keep = new Int32Array(n - removed.size);
        let w = 0;
        for (let i = 0; i < n; i++) if (!removed.has(i)) keep[w++] = i;
        if (w !== keep.length) throw new PruneError(`node '${node.name}': removal indices out of range for '${name}' axis ${axis}`);
        cur = takeAlong(cur, axis, keep);
      }
      if (cur === t) cur = t.clone();
      const want = shapes[name];
      if (want.length !== cur.rank || want.some((d, i) => d !== cur.shape[i])) {
        throw new PruneError(`node '${node.name}' (${node.op}): pruned '${name}' has shape [${cur.shape.join(', ')}], the pruned node expects [${want.join(', ')}]`);
      }
      newParams[name] = cur;
    }
  });
  return { graph: newGraph, params: newParams };
}
