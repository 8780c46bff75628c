/**
 * The comparison that shows whether the metanetwork helps (issue #10, method §8.3): the same
 * target networks pruned by
 *   (a) metanetwork → finetune → prune → finetune,
 *   (b) finetune → prune → finetune (no metanetwork),
 *   (c) direct sparse training with the same regularizer for the same number of gradient steps → prune → finetune,
 * each with the same budgets, over several seeds, reporting test accuracy at each MACs target.
 */
import { noGrad } from '../tensor/autograd.js';
import { cloneParams } from '../ir/init.js';
import { countOps, layerWidths, type LayerWidth } from '../ir/count.js';
import { subset, type Dataset } from '../data/index.js';
import { evaluate } from '../train/evaluate.js';
import { finetune } from '../train/run.js';
import { regularizerHook, pruneToSpeedup } from '../prune/index.js';
import { adapt, type AdaptConfig } from './adapt.js';
import { loadMetanet } from './metanet.js';
import { loadDataModel, type Zoo, type ZooEntry } from './zoo.js';
import { meanStd } from './stats.js';

export type Arm = 'metanet' | 'prune-only' | 'sparse-train';
export const ARMS: readonly Arm[] = ['metanet', 'prune-only', 'sparse-train'];

export interface CompareConfig {
  /** MACs speed-ups relative to the unpruned original architecture. */
  targets: number[];
  seeds: number;
  /** Pre-prune training every arm gets (finetune; for sparse-train the same steps with the regularizer). */
  adapt: AdaptConfig;
  /** Finetune after pruning. */
  finetuneEpochs: number;
  finetuneLr: number;
  /** Regularizer for the sparse-training arm (λ from meta-training, α = 16). */
  reg: number;
  alpha: number;
  /** No channel group loses more than this fraction of its channels (Torch-Pruning's max_pruning_ratio; absent = 1, no floor). */
  maxPruningRatio?: number;
}

export interface CompareRow {
  arm: Arm;
  seed: number;
  model: number;
  target: number;
  speedup: number;
  accStart: number;
  accAdapted: number;
  accPruned: number;
  accFinal: number;
  /** Validation accuracy after finetuning (when the job had validation data): what regime choices use. */
  accFinalVal?: number;
  /** Output width per conv/linear layer of the data model and of the final pruned network (for the report). */
  layers?: LayerWidth[];
}

export interface CompareSummaryRow {
  arm: Arm;
  target: number;
  mean: number;
  std: number;
  n: number;
  meanPruned: number;
}

export function summarize(rows: CompareRow[]): CompareSummaryRow[] {
  const out: CompareSummaryRow[] = [];
  for (const target of [...new Set(rows.map((r) => r.target))]) {
    for (const arm of ARMS) {
      const rs = rows.filter((r) => r.arm === arm && r.target === target);
      if (rs.length === 0) continue;
      const { mean, std } = meanStd(rs.map((r) => r.accFinal));
      out.push({ arm, target, mean, std, n: rs.length, meanPruned: meanStd(rs.map((r) => r.accPruned)).mean });
    }
  }
  return out;
}

/** One (seed, arm) cell of the comparison: a self-contained job that can run in a worker. */
export interface CompareJob {
  arm: Arm;
  /** Seed index s (the finetune seed is 1000 + s). */
  s: number;
  zooDir: string;
  entry: ZooEntry;
  /** Metanetwork checkpoint for the metanet arm. */
  metanetPath: string;
  baseMacs: number;
  cfg: CompareConfig;
  /** Also measure validation accuracy after finetuning (the study's regime choice uses it). */
  validation?: boolean;
}

export function runCompareJob(job: CompareJob, train: Dataset, test: Dataset, val?: Dataset): CompareRow[] {
  const { arm, cfg, baseMacs } = job;
  const dm = loadDataModel({ dir: job.zooDir, baseMacs, entries: [job.entry] }, job.entry);
  const seed = 1000 + job.s;
  const accStart = evaluate(dm.graph, dm.params, test).acc;
  const start = arm === 'metanet' ? noGrad(() => loadMetanet(job.metanetPath).metanet.apply(dm.graph, dm.params)) : dm.params;
  const p = cloneParams(start);
  adapt(dm.graph, p, train, cfg.adapt, seed, arm === 'sparse-train' ? regularizerHook(dm.graph, { reg: cfg.reg, alpha: cfg.alpha }) : undefined);
  const accAdapted = evaluate(dm.graph, p, test).acc;
  const current = baseMacs / countOps(dm.graph).macs;
  const ftData = cfg.adapt.images > 0 && cfg.adapt.images < train.n ? subset(train, cfg.adapt.images, seed + 1) : train;
  return cfg.targets.map((target) => {
    const r = pruneToSpeedup(dm.graph, cloneParams(p), { speedup: target / current, maxPruningRatio: cfg.maxPruningRatio });
    const accPruned = evaluate(r.graph, r.params, test).acc;
    finetune(r.graph, r.params, ftData, { epochs: cfg.finetuneEpochs, lr: cfg.finetuneLr, seed: seed + 1 });
    return {
      arm, seed, model: dm.entry.index, target, speedup: baseMacs / countOps(r.graph).macs,
      accStart, accAdapted, accPruned, accFinal: evaluate(r.graph, r.params, test).acc,
      ...(job.validation && val ? { accFinalVal: evaluate(r.graph, r.params, val).acc } : {}),
      layers: layerWidths(dm.graph, r.graph),
    };
  });
}

/** The jobs of a comparison: every seed × arm, seed s on held-out model s mod #models. */
export function compareJobs(zoo: Zoo, heldOut: ZooEntry[], metanetPath: string, cfg: CompareConfig): CompareJob[] {
  const jobs: CompareJob[] = [];
  for (let s = 0; s < cfg.seeds; s++) {
    for (const arm of ARMS) jobs.push({ arm, s, zooDir: zoo.dir, entry: heldOut[s % heldOut.length], metanetPath, baseMacs: zoo.baseMacs, cfg });
  }
  return jobs;
}

/** Jobs for paired differences: every held-out model × seed × arm (seed s finetunes with 1000 + s on each model). */
export function pairedCompareJobs(zoo: Zoo, heldOut: ZooEntry[], metanetPath: string, cfg: CompareConfig): CompareJob[] {
  const jobs: CompareJob[] = [];
  for (const entry of heldOut) {
    for (let s = 0; s < cfg.seeds; s++) {
      for (const arm of ARMS) jobs.push({ arm, s, zooDir: zoo.dir, entry, metanetPath, baseMacs: zoo.baseMacs, cfg, validation: true });
    }
  }
  return jobs;
}

/** Rows sorted by seed, arm, target (deterministic whatever order parallel jobs finish in). */
export function sortRows(rows: CompareRow[]): CompareRow[] {
  return [...rows].sort((a, b) => a.model - b.model || a.seed - b.seed || ARMS.indexOf(a.arm) - ARMS.indexOf(b.arm) || a.target - b.target);
}

/** The comparison table as text (accuracy in %, mean ± std over seeds). */
export function formatCompareTable(summary: CompareSummaryRow[]): string {
  const targets = [...new Set(summary.map((r) => r.target))];
  const head = ['arm'.padEnd(14), ...targets.map((t) => `${t}× (finetuned)`.padStart(18)), ...targets.map((t) => `${t}× (no ft)`.padStart(12))].join(' ');
  const lines = [head];
  for (const arm of ARMS) {
    const cells = targets.map((t) => {
      const r = summary.find((x) => x.arm === arm && x.target === t);
      return (r ? `${(100 * r.mean).toFixed(2)} ± ${(100 * r.std).toFixed(2)}` : 'n/a').padStart(18);
    });
    const raw = targets.map((t) => {
      const r = summary.find((x) => x.arm === arm && x.target === t);
      return (r ? (100 * r.meanPruned).toFixed(2) : 'n/a').padStart(12);
    });
    lines.push([arm.padEnd(14), ...cells, ...raw].join(' '));
  }
  return lines.join('\n');
}
