/**
 * Meta Pruning of the user's own network (issue #19): for a trained `.onnx` model and a dataset,
 * train a zoo of data models of the same architecture from a standard initialization, meta-train
 * and select a metanetwork (the pipeline's stages), apply it to the user's weights, adapt, prune
 * to the MACs target, finetune, and write the pruned `.onnx`, the pruning plan (a replayable
 * history) and a JSON report into the run directory. Every stage resumes from the run directory.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '../tensor/autograd.js';
import { countOps } from '../ir/count.js';
import { cloneParams } from '../ir/init.js';
import type { ModelGraph } from '../ir/graph.js';
import { loadOnnx, saveOnnx } from '../io/onnx/index.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { onnxArchitecture } from '../models/onnx-architecture.js';
import { subset } from '../data/index.js';
import { evaluate } from '../train/evaluate.js';
import { finetune } from '../train/run.js';
import { pruneToSpeedup } from '../prune/index.js';
import { adapt, type AdaptConfig } from './adapt.js';
import { loadMetanet } from './metanet.js';
import { metanetPath } from './metatrain.js';
import { loadRecipe } from './workers.js';
import { DEFAULT_PIPELINE, quickConfig, runPipeline, type PipelineConfig, type PipelineHooks } from './pipeline.js';
import { ValueError } from '../errors.js';

export interface MetaPruneConfig extends PipelineConfig {
  /** The user's trained model (.onnx); also the zoo's architecture. */
  model: string;
  /** MACs speed-up target relative to the user's model. */
  speedup: number;
  /** Pruned model path ('' : <out>/pruned.onnx). */
  output: string;
  /** What the user's model gets after the metanetwork: adapt, prune, finetune. */
  final: { adapt: AdaptConfig; finetuneEpochs: number; finetuneLr: number; finetuneImages: number; seed: number };
}

export const DEFAULT_META_PRUNE: MetaPruneConfig = {
  ...DEFAULT_PIPELINE,
  out: 'runs/meta-prune',
  data: '',
  zoo: { ...DEFAULT_PIPELINE.zoo, model: '', recipe: { ...DEFAULT_PIPELINE.zoo.recipe, augment: false, augmentPadding: 4, augmentFlip: true } },
  model: '',
  speedup: 2,
  output: '',
  final: { adapt: { kind: 'finetune', epochs: 1, lr: 0.01, images: 0 }, finetuneEpochs: 3, finetuneLr: 0.01, finetuneImages: 0, seed: 0 },
};

/** The pipeline's quick setting plus a short final finetune. */
export function quickMetaPruneConfig(c: MetaPruneConfig): MetaPruneConfig {
  return { ...c, ...quickConfig(c), final: { ...c.final, finetuneEpochs: 1 } };
}

/** Output widths of every conv and linear layer, by name. */
export function layerWidths(g: ModelGraph): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of g.nodes) {
    if (n.op === 'conv2d') out[n.name] = n.outChannels;
    else if (n.op === 'linear') out[n.name] = n.outFeatures;
  }
  return out;
}

export interface MetaPruneReport {
  model: string;
  data: string;
  output: string;
  plan: string;
  chosenEpoch: number;
  target: number;
  speedup: number;
  macs: { before: number; after: number };
  params: { before: number; after: number };
  /** Test accuracy of the user's model, after metanetwork + adapt, right after pruning, after finetuning. */
  acc: { original: number; adapted: number; pruned: number; finetuned: number };
  widths: { before: Record<string, number>; after: Record<string, number> };
}

/**
 * The data sizes the pipeline may ask for, shrunk to what the user's data has: validation images
 * at most a fifth of the train split, zoo and adapt subsets at most the rest (0 = all).
 */
function fitToData(cfg: MetaPruneConfig, trainImages: number): MetaPruneConfig {
  const valImages = Math.min(cfg.valImages, Math.floor(trainImages / 5));
  const rest = trainImages - valImages;
  const cap = (n: number) => (n >= rest ? 0 : n);
  return {
    ...cfg, valImages,
    zoo: { ...cfg.zoo, model: cfg.model, trainImages: cap(cfg.zoo.trainImages) },
    select: { ...cfg.select, adapt: { ...cfg.select.adapt, images: cap(cfg.select.adapt.images) } },
    compare: { ...cfg.compare, adapt: { ...cfg.compare.adapt, images: cap(cfg.compare.adapt.images) } },
  };
}

/** Runs (or resumes) meta-pruning of `cfg.model`; returns the report also written to <out>/meta-prune.json. */
export async function metaPrune(config: MetaPruneConfig, hooks: PipelineHooks = {}): Promise<MetaPruneReport> {
  if (config.model === '') throw new ValueError('meta-prune: no model: expected a .onnx file');
  if (config.data === '') throw new ValueError('meta-prune: no data: expected a dataset spec such as folder:DIR or npz:FILE');
  if (!(config.speedup > 1)) throw new ValueError(`meta-prune: speed-up must be > 1, got ${config.speedup}`);
  const full = loadRecipe({ spec: config.data, valImages: 0, splitSeed: 7 });
  const cfg = fitToData(config, full.train.n);
  const user = loadOnnx(cfg.model);
  // Same checks as the zoo's architecture: the data must fit the model.
  onnxArchitecture(cfg.model, [full.train.channels, full.train.height, full.train.width], full.train.numClasses, 0);

  const r = await runPipeline(cfg, hooks, 'select');
  const chosen = r.selection!.chosen;
  const output = cfg.output !== '' ? cfg.output : join(cfg.out, 'pruned.onnx');
  const reportFile = join(cfg.out, 'meta-prune.json');
  const planFile = join(cfg.out, 'plan.json');
  const st = statSync(cfg.model);
  const key = { cfg: { ...cfg, output }, chosen, modelFile: { size: st.size, mtimeMs: st.mtimeMs } };
  if (existsSync(reportFile) && existsSync(output)) {
    const c = JSON.parse(readFileSync(reportFile, 'utf8')) as { key: unknown; report: MetaPruneReport };
    if (JSON.stringify(c.key) === JSON.stringify(key)) return c.report;
  }

  hooks.stage?.('prune', `metanetwork epoch ${chosen} on ${cfg.model} → ${cfg.speedup}× → finetune`);
  const { train, test } = loadRecipe({ spec: cfg.data, valImages: cfg.valImages, splitSeed: 7 });
  const f = cfg.final;
  const original = evaluate(user.graph, user.params, test).acc;
  const p = chosen >= 0 ? noGrad(() => loadMetanet(metanetPath(join(cfg.out, 'meta'), chosen)).metanet.apply(user.graph, user.params)) : cloneParams(user.params);
  adapt(user.graph, p, train, f.adapt, f.seed);
  const adapted = evaluate(user.graph, p, test).acc;
  const pr = pruneToSpeedup(user.graph, p, { speedup: cfg.speedup });
  const pruned = evaluate(pr.graph, pr.params, test).acc;
  const ftData = f.finetuneImages > 0 && f.finetuneImages < train.n ? subset(train, f.finetuneImages, f.seed + 1) : train;
  finetune(pr.graph, pr.params, ftData, { epochs: f.finetuneEpochs, lr: f.finetuneLr, seed: f.seed + 1 });
  const finetuned = evaluate(pr.graph, pr.params, test).acc;
  saveOnnx(output, pr.graph, pr.params);
  writeJsonAtomic(planFile, pr.history);
  const before = countOps(user.graph);
  const after = countOps(pr.graph);
  const report: MetaPruneReport = {
    model: cfg.model, data: cfg.data, output, plan: planFile, chosenEpoch: chosen,
    target: cfg.speedup, speedup: before.macs / after.macs,
    macs: { before: before.macs, after: after.macs }, params: { before: before.params, after: after.params },
    acc: { original, adapted, pruned, finetuned },
    widths: { before: layerWidths(user.graph), after: layerWidths(pr.graph) },
  };
  writeJsonAtomic(reportFile, { key, report });
  return report;
}
