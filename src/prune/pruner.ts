/**
 * Progressive structured pruning with Torch-Pruning's schedule (`MetaPruner`/`GroupNormPruner`
 * with `iterative_steps`, `pruning_ratio`, `global_pruning`): at step k the target fraction of
 * channels removed is k/iterativeSteps·pruningRatio of the ORIGINAL channel count; importance is
 * re-scored on the current, shrunk model at every step; with global ranking all groups' normalized
 * importances are pooled and every channel at or below the threshold goes. `pruneToSpeedup` steps
 * until base MACs / current MACs reaches the target, so the achieved speed-up is slightly above it;
 * a step that would overshoot it by more than a tolerance removes only the channels needed.
 * Every step is recorded in a JSON-serializable `PruningHistory` that `replayHistory` re-applies.
 */
import { countOps } from '../ir/count.js';
import type { ModelGraph, Params } from '../ir/graph.js';
import { PruneError } from './errors.js';
import { buildDependencyGraph, checkIgnoredLayers, defaultIgnoredLayers, prunableGroups, type Group, type GroupOptions } from './depgraph.js';
import { DEFAULT_IMPORTANCE, type Importance } from './importance.js';
import { applyPruning, pruneGraph, type PrunedModel, type Removal } from './surgery.js';

export interface PrunerOptions extends GroupOptions {
  /** Default: L2 magnitude, mean reduction, max normalizer (Meta Pruning's criterion). */
  importance?: Importance;
  /** Rank channels across all groups (default true) or within each group. */
  globalPruning?: boolean;
  /** Number of steps of the schedule (default 200). */
  iterativeSteps?: number;
  /** Fraction of the original channels removed at the last step (default 1.0, as Meta Pruning). */
  pruningRatio?: number;
  /** No group loses more than this fraction of its original channels (default 1.0; ≥ 1 channel always stays). */
  maxPruningRatio?: number;
  /** Channel counts of pruned groups stay multiples of this (default 1). */
  roundTo?: number;
  /** Per-sample input shape for MACs (default: the graph's input shape). */
  inputShape?: number[];
  /**
   * Per-layer pruning ratios (Torch-Pruning's `pruning_ratio_dict`): the group that prunes the
   * named layer's output channels loses this fraction of them over the schedule, outside the
   * global ranking. Unknown names, layers in no prunable group and ratios outside [0, 1) are errors.
   */
  layerRatios?: Readonly<Record<string, number>>;
}

export interface PruningStep {
  /** 1-based step of the schedule. */
  step: number;
  /** Per group root, the root's output-channel indices removed, in terms of the model at this step. */
  removed: Record<string, number[]>;
  /** MACs after the step. */
  macs: number;
}

export interface PruningHistory {
  format: 'metaprune-pruning-history';
  version: 1;
  /** Name of the original model. */
  model: string;
  steps: PruningStep[];
}

export interface StepResult extends PrunedModel {
  step: number;
  macs: number;
  speedup: number;
  removed: Record<string, number[]>;
}

function checkOptions(o: PrunerOptions): void {
  const steps = o.iterativeSteps ?? 200;
  if (!Number.isInteger(steps) || steps < 1) throw new PruneError(`iterativeSteps must be a positive integer, got ${steps}`);
  const ratio = o.pruningRatio ?? 1;
  if (!(ratio > 0 && ratio <= 1)) throw new PruneError(`pruningRatio must be in (0, 1], got ${ratio}`);
  const mr = o.maxPruningRatio ?? 1;
  if (!(mr > 0)) throw new PruneError(`maxPruningRatio must be > 0, got ${mr}`);
  const r = o.roundTo ?? 1;
  if (!Number.isInteger(r) || r < 1) throw new PruneError(`roundTo must be a positive integer, got ${r}`);
}

/** Ascending order of importance; NaN ranks as the largest (torch.topk / argsort), ties by index. */
function argsortAscending(imp: Float64Array): number[] {
  const idx = Array.from(imp.keys());
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  return idx.sort((a, b) => {
    const va = imp[a], vb = imp[b];
    const na = Number.isNaN(va), nb = Number.isNaN(vb);
    if (na !== nb) return na ? 1 : -1;
    return key(va) - key(vb) || a - b;
  });
}

export class Pruner {
  graph: ModelGraph;
  params: Params;
  readonly baseMacs: number;
  macs: number;
  /** Steps taken so far. */
  currentStep = 0;
  readonly history: PruningHistory;
  readonly options: Readonly<Required<Omit<PrunerOptions, 'inputShape' | 'ignoredLayers' | 'layerRatios'>>> & { inputShape?: number[]; ignoredLayers: string[] };
  private readonly initialSize = new Map<string, number>();
  private readonly initialTotal: number;
  /** Group root → its own pruning ratio (layerRatios). */
  private readonly groupRatio = new Map<string, number>();

  constructor(graph: ModelGraph, params: Params, o: PrunerOptions = {}) {
    checkOptions(o);
    const ignoredLayers = [...(o.ignoredLayers ?? defaultIgnoredLayers(graph))];
    checkIgnoredLayers(graph, ignoredLayers);
    this.options = {
      importance: o.importance ?? DEFAULT_IMPORTANCE,
      globalPruning: o.globalPruning ?? true,
      iterativeSteps: o.iterativeSteps ?? 200,
      pruningRatio: o.pruningRatio ?? 1,
      maxPruningRatio: o.maxPruningRatio ?? 1,
      roundTo: o.roundTo ?? 1,
      inputShape: o.inputShape,
      ignoredLayers,
    };
    this.graph = graph;
    this.params = params;
    this.baseMacs = countOps(graph, o.inputShape).macs;
    this.macs = this.baseMacs;
    const groups = prunableGroups(buildDependencyGraph(graph), { ignoredLayers });
    for (const [layer, r] of Object.entries(o.layerRatios ?? {})) {
      if (!(r >= 0 && r < 1)) throw new PruneError(`layer ratio of '${layer}' must be in [0, 1), got ${r}`);
      checkIgnoredLayers(graph, [layer]);
      const g = groups.find((x) => x.nodes.includes(layer));
      if (g === undefined) throw new PruneError(`layer ratio of '${layer}': its output channels are in no prunable group (ignored, the model output, or coupled to the input)`);
      this.groupRatio.set(g.root, r);
    }
    let total = 0;
    for (const g of groups) {
      this.initialSize.set(g.root, g.size);
      if (!this.groupRatio.has(g.root)) total += g.size;
    }
    this.initialTotal = total;
    this.history = { format: 'metaprune-pruning-history', version: 1, model: graph.name, steps: [] };
  }

  get speedup(): number {
    return this.baseMacs / this.macs;
  }

  /** Fewest units a group may keep: ≥ 1 and ≥ its original size·(1 − maxPruningRatio). */
  minKeep(g: Group): number {
    const init = this.initialSize.get(g.root) ?? g.size;
    return Math.max(1, Math.ceil(init * (1 - this.options.maxPruningRatio) - 1e-9));
  }

  /** Largest n' ≤ n that keeps ≥ minKeep units and a multiple of roundTo channels (0 if none). */
  private allowed(g: Group, n: number): number {
    const per = g.rootChannels[0]?.length ?? 1;
    const r = this.options.roundTo;
    for (let m = Math.min(n, g.size - this.minKeep(g)); m > 0; m--) {
      if (((g.size - m) * per) % r === 0) return m;
    }
    return 0;
  }

  /** Channel units each group would drop at the schedule's ratio (no side effects). */
  private select(groups: Group[], imps: (Float64Array | null)[], ratio: number): Map<Group, number[]> {
    const out = new Map<Group, number[]>();
    const all0 = groups.map((g, i) => ({ g, imp: imps[i] })).filter((e): e is { g: Group; imp: Float64Array } => e.imp !== null);
    const scored = all0.filter((e) => !this.groupRatio.has(e.g.root));
    for (const { g, imp } of all0) {
      const own = this.groupRatio.get(g.root);
      if (own === undefined) continue;
      const init = this.initialSize.get(g.root) ?? g.size;
      const n = this.allowed(g, g.size - Math.trunc(init * (1 - (ratio / this.options.pruningRatio) * own)));
      if (n > 0) out.set(g, argsortAscending(imp).slice(0, n));
    }
    if (this.options.globalPruning) {
      let len = 0;
      for (const e of scored) len += e.imp.length;
      const nPruned = len - Math.trunc(this.initialTotal * (1 - ratio));
      if (nPruned <= 0 || len === 0) return out;
      const all = new Float64Array(len);
      let o = 0;
      for (const e of scored) {
        all.set(e.imp, o);
        o += e.imp.length;
      }
      const order = argsortAscending(all);
      const thres = all[order[Math.min(nPruned, len) - 1]];
      for (const { g, imp } of scored) {
        const cand: number[] = [];
        for (let k = 0; k < imp.length; k++) if (imp[k] <= thres) cand.push(k);
        if (cand.length === 0) continue;
        const n = this.allowed(g, cand.length);
        if (n === 0) continue;
        out.set(g, n === cand.length ? cand : argsortAscending(imp).slice(0, n));
      }
    } else {
      for (const { g, imp } of scored) {
        const init = this.initialSize.get(g.root) ?? g.size;
        const n = this.allowed(g, g.size - Math.trunc(init * (1 - ratio)));
        if (n > 0) out.set(g, argsortAscending(imp).slice(0, n));
      }
    }
    return out;
  }

  /**
   * Of the units `chosen` for one step, the fewest (in ascending order of importance, as the
   * global ranking removes them) whose removal reaches base MACs / MACs ≥ `speedup`.
   */
  private trimToTarget(dg: ReturnType<typeof buildDependencyGraph>, chosen: Map<Group, number[]>, imps: Map<Group, Float64Array>, speedup: number): Map<Group, number[]> {
    const ranked: { g: Group; unit: number; imp: number }[] = [];
    for (const [g, units] of chosen) for (const unit of units) ranked.push({ g, unit, imp: imps.get(g)?.[unit] ?? 0 });
    const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
    ranked.sort((a, b) => key(a.imp) - key(b.imp) || a.unit - b.unit);
    const prefix = (k: number): Map<Group, number[]> => {
      const per = new Map<Group, number[]>();
      for (const r of ranked.slice(0, k)) per.set(r.g, [...(per.get(r.g) ?? []), r.unit]);
      const out = new Map<Group, number[]>();
      for (const [g, units] of per) {
        const n = this.allowed(g, units.length);
        if (n > 0) out.set(g, units.slice(0, n));
      }
      return out;
    };
    const macsOf = (sel: Map<Group, number[]>): number => {
      const removal: Record<string, number[]> = {};
      for (const [g, units] of sel) removal[g.root] = units.flatMap((k) => g.rootChannels[k]);
      return countOps(pruneGraph(dg, removal), this.options.inputShape).macs;
    };
    // MACs fall monotonically with the prefix length: binary search for the shortest that reaches the target.
    let lo = 1, hi = ranked.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.baseMacs / macsOf(prefix(mid)) >= speedup) hi = mid;
      else lo = mid + 1;
    }
    return prefix(lo);
  }

  /**
   * One step of the schedule: returns the (possibly unchanged) model after it. With `target`, a
   * step that would overshoot that speed-up by more than `tolerance` removes only as many of its
   * channels (least important first) as needed to reach it.
   */
  step(target?: { speedup: number; tolerance: number }): StepResult {
    const o = this.options;
    if (this.currentStep >= o.iterativeSteps) {
      throw new PruneError(`pruner: all ${o.iterativeSteps} steps of the schedule are done`);
    }
    this.currentStep++;
    const ratio = (this.currentStep / o.iterativeSteps) * o.pruningRatio;
    const dg = buildDependencyGraph(this.graph);
    const groups = prunableGroups(dg, { ignoredLayers: o.ignoredLayers }).filter((g) => g.size > this.minKeep(g));
    const imps = o.importance.scores(groups, this.params, { graph: this.graph, step: this.currentStep });
    let chosen = this.select(groups, imps, ratio);
    if (target !== undefined && chosen.size > 0) {
      const removal: Record<string, number[]> = {};
      for (const [g, units] of chosen) removal[g.root] = units.flatMap((k) => g.rootChannels[k]);
      const full = countOps(pruneGraph(dg, removal), o.inputShape).macs;
      if (this.baseMacs / full > target.speedup * (1 + target.tolerance)) {
        const byGroup = new Map<Group, Float64Array>();
        groups.forEach((g, i) => { const imp = imps[i]; if (imp) byGroup.set(g, imp); });
        chosen = this.trimToTarget(dg, chosen, byGroup, target.speedup);
      }
    }
    const removed: Record<string, number[]> = {};
    for (const [g, units] of chosen) removed[g.root] = units.flatMap((k) => g.rootChannels[k]).sort((a, b) => a - b);
    if (chosen.size > 0) {
      const next = applyPruning(this.graph, this.params, removed, dg);
      this.graph = next.graph;
      this.params = next.params;
      this.macs = countOps(this.graph, o.inputShape).macs;
    }
    this.history.steps.push({ step: this.currentStep, removed, macs: this.macs });
    return { graph: this.graph, params: this.params, step: this.currentStep, macs: this.macs, speedup: this.speedup, removed };
  }

  /** MACs of the smallest model the options allow (every prunable group at its minimum). */
  minimumMacs(): number {
    const dg = buildDependencyGraph(this.graph);
    const removal: Record<string, number[]> = {};
    for (const g of prunableGroups(dg, { ignoredLayers: this.options.ignoredLayers })) {
      const own = this.groupRatio.get(g.root);
      const n = this.allowed(g, own === undefined ? g.size : g.size - Math.trunc(g.size * (1 - own)));
      if (n > 0) removal[g.root] = g.rootChannels.slice(g.size - n).flat();
    }
    return countOps(pruneGraph(dg, removal), this.options.inputShape).macs;
  }
}

export interface SpeedupOptions extends PrunerOptions {
  /** Target speed-up base MACs / pruned MACs (> 1). */
  speedup: number;
  /**
   * A step that would land above speedup·(1 + overshootTolerance) is cut to the channels needed
   * to reach the target (default 0.1: with the default 200 steps a step is rarely cut, so results
   * match Torch-Pruning's schedule; with few steps one step could otherwise remove far too much).
   */
  overshootTolerance?: number;
}

export interface SpeedupResult extends PrunedModel {
  history: PruningHistory;
  baseMacs: number;
  macs: number;
  /** Achieved speed-up (≥ the target, within one step of it). */
  speedup: number;
  /** Steps of the schedule taken. */
  steps: number;
}

/** Progressive pruning until base MACs / MACs ≥ `speedup` (Meta Pruning's `progressive_pruning`). */
export function pruneToSpeedup(graph: ModelGraph, params: Params, o: SpeedupOptions): SpeedupResult {
  if (!(o.speedup > 1)) throw new PruneError(`speed-up must be > 1 (base MACs / pruned MACs), got ${o.speedup}`);
  const pruner = new Pruner(graph, params, o);
  const best = pruner.baseMacs / pruner.minimumMacs();
  if (best < o.speedup) {
    throw new PruneError(
      `speed-up ${o.speedup}× is unreachable for '${graph.name}': with every prunable group at its minimum the speed-up is ${best.toFixed(3)}× (ignored layers: ${pruner.options.ignoredLayers.join(', ') || 'none'})`,
    );
  }
  while (pruner.speedup < o.speedup) {
    if (pruner.currentStep >= pruner.options.iterativeSteps) {
      throw new PruneError(`speed-up ${o.speedup}× is unreachable for '${graph.name}': after all ${pruner.options.iterativeSteps} steps the speed-up is ${pruner.speedup.toFixed(3)}×`);
    }
    pruner.step({ speedup: o.speedup, tolerance: o.overshootTolerance ?? 0.1 });
  }
  return {
    graph: pruner.graph, params: pruner.params, history: pruner.history,
    baseMacs: pruner.baseMacs, macs: pruner.macs, speedup: pruner.speedup, steps: pruner.currentStep,
  };
}

/** Re-applies a pruning history to the original model; gives the same model bit for bit. */
export function replayHistory(graph: ModelGraph, params: Params, history: PruningHistory): PrunedModel {
  if (history.format !== 'metaprune-pruning-history' || history.version !== 1) {
    throw new PruneError(`replayHistory: not a metaprune pruning history (format '${String(history.format)}', version ${String(history.version)})`);
  }
  if (history.model !== graph.name) throw new PruneError(`replayHistory: history is for model '${history.model}', got '${graph.name}'`);
  let cur: PrunedModel = { graph, params };
  for (const s of history.steps) {
    if (Object.values(s.removed).every((r) => r.length === 0)) continue;
    try {
      cur = applyPruning(cur.graph, cur.params, s.removed);
    } catch (e) {
      if (e instanceof PruneError) throw new PruneError(`replayHistory: step ${s.step}: ${e.message}`);
      throw e;
    }
  }
  return cur;
}

export type { Removal };
