/**
 * A pruning plan for the original network: for every parameter that pruning shrank, the indices
 * it keeps along each pruned axis, in terms of the ORIGINAL model (a history's steps are in terms
 * of the model at each step). With parameter names that are PyTorch state_dict keys (ONNX exports
 * name initializers so), docs/pytorch-plan.md applies it to the nn.Module.
 */
import type { ModelGraph, Params } from '../ir/graph.js';
import { buildDependencyGraph } from './depgraph.js';
import { PruneError } from './errors.js';
import type { PruningHistory } from './pruner.js';
import { applyPruning } from './surgery.js';

export interface PruningPlan {
  format: 'metaprune-pruning-plan';
  version: 1;
  model: string;
  /** Parameter name → axis ('0' out channels, '1' in channels) → kept original indices, ascending. */
  params: Record<string, Record<string, number[]>>;
}

export function pruningPlan(graph: ModelGraph, params: Params, history: PruningHistory): PruningPlan {
  const kept = new Map<string, number[][]>();
  for (const [name, t] of Object.entries(params)) kept.set(name, t.shape.slice(0, 2).map((d) => Array.from({ length: d }, (_, i) => i)));
  let cur = { graph, params };
  for (const s of history.steps) {
    if (Object.values(s.removed).every((r) => r.length === 0)) continue;
    const dg = buildDependencyGraph(cur.graph);
    const drop = new Map<string, Set<number>>(); // `${param}@${axis}` → positions removed this step
    for (const [root, chans] of Object.entries(s.removed)) {
      const g = dg.groupByRoot.get(root);
      if (g === undefined) throw new PruneError(`pruning plan: step ${s.step} prunes '${root}', which roots no group`);
      const set = new Set(chans);
      const units = g.rootChannels.flatMap((rc, k) => (rc.some((c) => set.has(c)) ? [k] : []));
      for (const sl of g.slices) {
        if (sl.axis > 1) continue;
        const key = `${sl.param}@${sl.axis}`;
        const d = drop.get(key) ?? new Set<number>();
        for (const k of units) for (const i of sl.indices[k]) d.add(i);
        drop.set(key, d);
      }
    }
    for (const [key, d] of drop) {
      const at = key.lastIndexOf('@');
      const axes = kept.get(key.slice(0, at))!;
      const axis = Number(key.slice(at + 1));
      axes[axis] = axes[axis].filter((_, i) => !d.has(i));
    }
    cur = applyPruning(cur.graph, cur.params, s.removed, dg);
  }
  const out: PruningPlan['params'] = {};
  for (const [name, axes] of kept) {
    const t = params[name];
    const changed: Record<string, number[]> = {};
    axes.forEach((idx, a) => { if (idx.length !== t.shape[a]) changed[String(a)] = idx; });
    if (Object.keys(changed).length > 0) out[name] = changed;
  }
  return { format: 'metaprune-pruning-plan', version: 1, model: graph.name, params: out };
}
