/**
 * A complete training run from a plain config (model name, dataset spec, recipe): the library
 * function behind `metaprune train`.
 */
import { ValueError } from '../errors.js';
import { buildModel, modelEntry } from '../models/index.js';
import { initParams } from '../ir/init.js';
import { countOps } from '../ir/count.js';
import type { ModelGraph, Params } from '../ir/graph.js';
import { loadDataset, type DatasetSpec, type DatasetSplits } from '../data/index.js';
import { train, type EpochInfo, type StepInfo, type TrainConfig } from './loop.js';
import type { EvalResult } from './evaluate.js';

export interface RecipeConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'sgd' | 'adamw';
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: 'cosine' | 'step' | 'multistep' | 'constant';
  milestones: number[];
  gamma: number;
  augment: boolean;
  seed: number;
}

export interface TrainRunConfig {
  model: string;
  /** 'fashion-mnist-14', or 'idx:DIR', 'cifar10:DIR', 'cifar100:DIR'. */
  data: string;
  width: number;
  out: string;
  train: RecipeConfig;
}

export const DEFAULT_RECIPE: RecipeConfig = {
  epochs: 5, batchSize: 128, lr: 0.05, optimizer: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4,
  schedule: 'cosine', milestones: [], gamma: 0.1, augment: false, seed: 0,
};

export const DEFAULT_TRAIN_RUN: TrainRunConfig = {
  model: 'smallcnn', data: 'fashion-mnist-14', width: 1, out: 'runs/train', train: DEFAULT_RECIPE,
};

export function parseDataSpec(s: string): DatasetSpec {
  if (s === 'fashion-mnist-14') return s;
  const m = /^(idx|cifar10|cifar100):(.+)$/.exec(s);
  if (!m) throw new ValueError(`data '${s}': expected fashion-mnist-14, idx:DIR, cifar10:DIR or cifar100:DIR`, { subject: 'data', expected: 'fashion-mnist-14, idx:DIR, cifar10:DIR or cifar100:DIR' });
  return { kind: m[1] as 'idx' | 'cifar10' | 'cifar100', dir: m[2] };
}

export function toTrainConfig(r: RecipeConfig): TrainConfig {
  return {
    epochs: r.epochs, batchSize: r.batchSize, lr: r.lr, seed: r.seed, augment: r.augment,
    optimizer: r.optimizer === 'sgd'
      ? { kind: 'sgd', momentum: r.momentum, nesterov: r.nesterov, weightDecay: r.weightDecay }
      : { kind: 'adamw', weightDecay: r.weightDecay },
    schedule: r.schedule === 'cosine' ? { kind: 'cosine' }
      : r.schedule === 'step' ? { kind: 'step', stepSize: r.milestones[0] ?? Math.max(1, Math.floor(r.epochs / 3)), gamma: r.gamma }
      : r.schedule === 'multistep' ? { kind: 'multistep', milestones: r.milestones, gamma: r.gamma }
      : { kind: 'constant' },
  };
}

/** Builds the named model for the dataset's image shape and class count, initialized from seed. */
export function createModel(name: string, data: DatasetSplits, seed: number, width = 1): { graph: ModelGraph; params: Params } {
  const t = data.train;
  const graph = buildModel(name, { numClasses: t.numClasses, inputShape: [t.channels, t.height, t.width], width });
  return { graph, params: initParams(graph, seed, modelEntry(name).init) };
}

export interface TrainRunHooks {
  checkpointDir?: string;
  resume?: boolean;
  onStep?(s: StepInfo): void;
  onEpoch?(e: EpochInfo): void;
  data?: DatasetSplits;
}

export interface TrainRunResult {
  graph: ModelGraph;
  params: Params;
  final?: EvalResult;
  epochs: EpochInfo[];
  macs: number;
  paramCount: number;
  resumedFrom: number;
}

export function trainModelRun(cfg: TrainRunConfig, hooks: TrainRunHooks = {}): TrainRunResult {
  const data = hooks.data ?? loadDataset(parseDataSpec(cfg.data));
  const { graph, params } = createModel(cfg.model, data, cfg.train.seed, cfg.width);
  const r = train({
    graph, params, train: data.train, test: data.test, config: toTrainConfig(cfg.train),
    checkpointDir: hooks.checkpointDir, resume: hooks.resume,
    hooks: { onStep: hooks.onStep, onEpoch: hooks.onEpoch },
    metadata: { model: cfg.model, data: cfg.data },
  });
  const c = countOps(graph);
  return { graph, params, final: r.final, epochs: r.epochs, macs: c.macs, paramCount: c.params, resumedFrom: r.resumedFrom };
}

export interface FinetuneOptions {
  epochs: number;
  lr: number;
  seed: number;
  batchSize?: number;
  /** Extra gradient terms (e.g. the sparsity regularizer for direct sparse training). */
  extraGrad?: TrainHooksExtra;
}

type TrainHooksExtra = NonNullable<Parameters<typeof train>[0]['hooks']>['extraGrad'];

/** Short SGD finetune (momentum 0.9, weight decay 5e-4, constant lr), updating params in place. */
export function finetune(graph: ModelGraph, params: Params, data: DatasetSplits['train'], o: FinetuneOptions): Params {
  if (o.epochs <= 0) return params;
  train({
    graph, params, train: data,
    config: {
      epochs: o.epochs, batchSize: o.batchSize ?? 128, lr: o.lr, seed: o.seed,
      optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 }, schedule: { kind: 'constant' },
    },
    hooks: o.extraGrad ? { extraGrad: o.extraGrad } : undefined,
  });
  return params;
}
