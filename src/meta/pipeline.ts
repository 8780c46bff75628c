/**
 * The whole Meta Pruning pipeline (issue #10): zoo → meta-train → select → compare, with every
 * stage resumable from its run directory. `metaprune demo` runs it on the embedded
 * Fashion-MNIST-14 data with smallcnn.
 *
 * Data hygiene: the train split is divided into a training part (zoo, meta-training, finetunes)
 * and a validation part used only for checkpoint selection; the test split is used only for the
 * final comparison, so nothing is tuned on test data.
 */
import { basename, join } from 'node:path';
import { reuseStage } from '../io/run-dir.js';
import { tensorFileHash } from '../io/tensor-file.js';
import { loadRecipe, defaultWorkers, runJobs, type DataRecipe, type JobQueueTarget, type QueueProgress } from './workers.js';
import { assertZooResumable, buildZoo, loadDataModel, DEFAULT_ZOO, type Zoo, type ZooConfig, type ZooEntry } from './zoo.js';
import { assertMetaResumable, metaTrain, metaTrainInterruptible, metanetPath, DEFAULT_META_TRAIN, type MetaTrainConfig, type MetaStepInfo } from './metatrain.js';
import { selectJobs, runSelectJob, chooseCheckpoint, type SelectConfig, type SelectionResult, type CurveFamilyMember } from './select.js';
import { compareJobs, runCompareJob, summarize, sortRows, formatCompareTable, type CompareConfig, type CompareRow, type CompareSummaryRow } from './compare.js';
import { DEFAULT_CURVE } from './curves.js';

export interface PipelineConfig {
  out: string;
  data: string;
  /** Images of the train split reserved for checkpoint selection. */
  valImages: number;
  /** Worker threads for independent jobs such as zoo models (0: METAPRUNE_WORKERS or all cores). */
  workers: number;
  /** Run independent jobs on `metaprune worker` processes through this Redis URL ('' : locally). */
  queue: string;
  zoo: ZooConfig;
  meta: MetaTrainConfig;
  select: SelectConfig & { models: number; every: number };
  compare: CompareConfig;
  /** Pruning options shared by the selection curves and the comparison. */
  prune: { maxPruningRatio: number };
}

export const DEFAULT_PIPELINE: PipelineConfig = {
  out: 'runs/demo',
  data: 'fashion-mnist-14',
  valImages: 2000,
  workers: 0,
  queue: '',
  // 24 data models and the pruning floor below: the best regime on validation of the embedded study (README)
  zoo: { ...DEFAULT_ZOO, count: 24 },
  meta: DEFAULT_META_TRAIN,
  select: {
    epochs: [], every: 2, models: 2, tolerance: 0.03, farFrom: 1.5,
    adapt: { kind: 'finetune', epochs: 1, lr: 0.01, images: 4000 },
    curve: DEFAULT_CURVE,
  },
  compare: {
    targets: [2, 3, 4], seeds: 3,
    adapt: { kind: 'finetune', epochs: 1, lr: 0.01, images: 0 },
    finetuneEpochs: 2, finetuneLr: 0.01, reg: 0, alpha: 16,
  },
  prune: { maxPruningRatio: 0.8 },
};

/** A much smaller setting for trying the pipeline out (minutes, not half an hour). */
export function quickConfig(c: PipelineConfig): PipelineConfig {
  return {
    ...c,
    zoo: { ...c.zoo, count: 5, heldOut: 2, trainImages: 3000, recipe: { ...c.zoo.recipe, epochs: 3 } },
    meta: { ...c.meta, epochs: 6, milestones: [4], batchesPerStep: 2 },
    select: { ...c.select, every: 2, models: 1, adapt: { ...c.select.adapt, images: 2000 } },
    compare: { ...c.compare, seeds: 2, adapt: { ...c.compare.adapt, images: 3000 }, finetuneEpochs: 1 },
  };
}

export interface PipelineHooks {
  stage?(name: string, detail?: string): void;
  zooModel?(e: ZooEntry, done: number, total: number): void;
  metaStep?(s: MetaStepInfo): void;
  member?(m: CurveFamilyMember): void;
  compareRow?(r: CompareRow): void;
  log?(record: Record<string, unknown>): void;
  queueProgress?(p: QueueProgress): void;
  /** Polled after every step or job: when true, the pipeline stops there and throws Interrupted (re-running resumes). */
  stop?(): boolean;
}

export type Stage = 'zoo' | 'meta-train' | 'select' | 'compare';
export const STAGES: readonly Stage[] = ['zoo', 'meta-train', 'select', 'compare'];

export interface PipelineResult {
  zoo: Zoo;
  reg?: number;
  selection?: SelectionResult;
  rows?: CompareRow[];
  summary?: CompareSummaryRow[];
  table?: string;
  /** The last stage that ran. */
  stage: Stage;
}

/** Hashes of the metanetwork checkpoints a stage reads, as recorded in their .json files. */
export function metanetInputs(paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of paths) out[basename(p)] = tensorFileHash(p) ?? 'unrecorded';
  return out;
}

export function selectionEpochs(cfg: PipelineConfig): number[] {
  if (cfg.select.epochs.length > 0) return cfg.select.epochs;
  const out: number[] = [];
  for (let e = cfg.select.every - 1; e < cfg.meta.epochs; e += cfg.select.every) out.push(e);
  if (out[out.length - 1] !== cfg.meta.epochs - 1) out.push(cfg.meta.epochs - 1);
  return out;
}

/**
 * Throws (before anything is written) when cfg.out holds a run whose data models or metanetwork
 * checkpoints were made with other settings: resuming would mix the two runs.
 */
export function assertPipelineResumable(cfg: PipelineConfig, layout: StageLayout = defaultLayout(cfg.out)): void {
  assertZooResumable(layout.zoo, cfg.zoo, dataRecipe(cfg));
  assertMetaResumable(layout.meta, cfg.meta);
}

export function dataRecipe(cfg: PipelineConfig): DataRecipe {
  return { spec: cfg.data, valImages: cfg.valImages, splitSeed: 7 };
}

/** Where each stage keeps its results (a study shares zoos and metanetworks between its cells). */
export interface StageLayout {
  zoo: string;
  meta: string;
  selection: string;
  compare: string;
}

export function defaultLayout(out: string): StageLayout {
  return { zoo: join(out, 'zoo'), meta: join(out, 'meta'), selection: join(out, 'selection.json'), compare: join(out, 'compare.json') };
}

/** The pruning floor as an option of the stages' configs; absent at its default, so earlier runs' keys still match. */
function withPruneOptions<T extends object>(c: T, cfg: PipelineConfig): T {
  return cfg.prune.maxPruningRatio === 1 ? c : { ...c, maxPruningRatio: cfg.prune.maxPruningRatio };
}

/** The selection stage's settings as the stage sees them (epochs expanded, pruning options folded in). */
export function selectionConfig(cfg: PipelineConfig): SelectConfig {
  return { ...cfg.select, epochs: selectionEpochs(cfg), curve: withPruneOptions(cfg.select.curve, cfg) };
}

/** The comparison's settings as the stage sees them (λ from meta-training unless set, pruning options folded in). */
export function comparisonConfig(cfg: PipelineConfig, metaReg: number): CompareConfig {
  return withPruneOptions({ ...cfg.compare, reg: cfg.compare.reg > 0 ? cfg.compare.reg : metaReg }, cfg);
}

/** The job queue of `cfg.queue` ('' = run jobs on this machine). */
export function queueTarget(cfg: PipelineConfig, hooks: PipelineHooks): JobQueueTarget | undefined {
  return cfg.queue === '' ? undefined : { url: cfg.queue, onProgress: hooks.queueProgress };
}

/** Runs the stages up to and including `until` (each stage reuses what earlier runs finished). */
export async function runPipeline(cfg: PipelineConfig, hooks: PipelineHooks = {}, until: Stage = 'compare', layout: StageLayout = defaultLayout(cfg.out)): Promise<PipelineResult> {
  assertPipelineResumable(cfg, layout);
  const recipe = dataRecipe(cfg);
  const { train, val, test } = loadRecipe(recipe);
  hooks.stage?.('zoo', `${cfg.zoo.count} data models of ${cfg.zoo.model}`);
  const workers = cfg.workers > 0 ? cfg.workers : defaultWorkers();
  const queue = queueTarget(cfg, hooks);
  const zoo = await buildZoo(cfg.zoo, { train, test }, layout.zoo, { onModel: hooks.zooModel, stop: hooks.stop }, { workers, loadData: recipe, queue });
  const trainModels = zoo.entries.filter((e) => e.split === 'train').map((e) => loadDataModel(zoo, e));
  const heldOut = zoo.entries.filter((e) => e.split === 'heldout');
  if (until === 'zoo') return { zoo, stage: 'zoo' };

  hooks.stage?.('meta-train', `${cfg.meta.epochs} epochs × ${trainModels.length} data models`);
  const metaDir = layout.meta;
  const meta = hooks.stop !== undefined
    ? await metaTrainInterruptible(trainModels, train, cfg.meta, metaDir, { onStep: hooks.metaStep }, hooks.stop)
    : metaTrain(trainModels, train, cfg.meta, metaDir, { onStep: hooks.metaStep });
  if (until === 'meta-train') return { zoo, reg: meta.reg, stage: 'meta-train' };

  const selModels = heldOut.slice(0, cfg.select.models);
  hooks.stage?.('select', `epochs ${selectionEpochs(cfg).join(', ')} on ${selModels.length} held-out models`);
  const selCfg = selectionConfig(cfg);
  const selInputs = metanetInputs(selCfg.epochs.map((e) => metanetPath(metaDir, e)));
  const selection = await reuseStage(layout.selection, { zoo: cfg.zoo, meta: cfg.meta, select: selCfg }, selInputs, async () => {
    const members = await runJobs('select', selectJobs((e) => metanetPath(metaDir, e), zoo.dir, selModels, selCfg), {
      workers, recipe, queue, inProcess: (j) => runSelectJob(j, train, val), onResult: (m: CurveFamilyMember) => hooks.member?.(m), stop: hooks.stop,
    });
    return chooseCheckpoint(members, selCfg);
  });
  if (until === 'select') return { zoo, reg: meta.reg, selection, stage: 'select' };

  hooks.stage?.('compare', `arms metanet / prune-only / sparse-train at ${cfg.compare.targets.join('×, ')}× over ${cfg.compare.seeds} seeds`);
  const compareCfg = comparisonConfig(cfg, meta.reg);
  const cmpInputs = metanetInputs([metanetPath(metaDir, selection.chosen)]);
  const cmp = await reuseStage(layout.compare, { zoo: cfg.zoo, meta: cfg.meta, chosen: selection.chosen, compare: compareCfg }, cmpInputs, async () => {
    const rows = (await runJobs('compare', compareJobs(zoo, heldOut, metanetPath(metaDir, selection.chosen), compareCfg), {
      workers, recipe, queue, inProcess: (j) => runCompareJob(j, train, test, val), onResult: (rs: CompareRow[]) => rs.forEach((r) => hooks.compareRow?.(r)), stop: hooks.stop,
    })).flat();
    const sorted = sortRows(rows);
    return { rows: sorted, summary: summarize(sorted) };
  });
  return { zoo, reg: meta.reg, selection, rows: cmp.rows, summary: cmp.summary, table: formatCompareTable(cmp.summary), stage: 'compare' };
}
