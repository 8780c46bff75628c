/**
 * A complete training run from a plain config (model name, dataset spec, recipe): the library
 * function behind `metaprune train`.
 */
import { ValueError } from '../errors.js';
import { buildModel, modelEntry } from '../models/index.js';
import { isOnnxPath, onnxArchitecture } from '../models/onnx-architecture.js';
import { initParams } from '../ir/init.js';
import { countOps } from '../ir/count.js';
import type { ModelGraph, Params } from '../ir/graph.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, loadDataset, parseUserDataSpec, type DatasetSpec, type DatasetSplits, type UserDataKind } from '../data/index.js';
import { lastCheckpointEpoch, train, trainInterruptible, type EpochInfo, type StepInfo, type TrainConfig, type TrainResult, type TrainRun } from './loop.js';
import { readCheckpointMeta } from '../io/checkpoint.js';
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
  /** With augment: zero padding before the random crop (0: no crop). Absent: 4. */
  augmentPadding?: number;
  /** With augment: random horizontal flips. Absent: true. */
  augmentFlip?: boolean;
  seed: number;
}

export interface TrainRunConfig {
  model: string;
  /** 'fashion-mnist-14', or 'idx:DIR', 'cifar10:DIR', 'cifar100:DIR', 'folder:DIR[,k=v…]', 'npz:FILE[,k=v…]', 'npy:FILE,labels=FILE'. */
  data: string;
  width: number;
  out: string;
  train: RecipeConfig;
}

export const DEFAULT_RECIPE: RecipeConfig = {
  epochs: 5, batchSize: 128, lr: 0.05, optimizer: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4,
  schedule: 'cosine', milestones: [], gamma: 0.1, augment: false, augmentPadding: 4, augmentFlip: true, seed: 0,
};

export const DEFAULT_TRAIN_RUN: TrainRunConfig = {
  model: 'smallcnn', data: 'fashion-mnist-14', width: 1, out: 'runs/train', train: DEFAULT_RECIPE,
};

/** Where Debian's dataset-fashion-mnist package puts the full-resolution IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export function parseDataSpec(s: string): DatasetSpec {
  if (s === 'fashion-mnist-14') return s;
  if (s === 'fashion-mnist') {
    if (!existsSync(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'))) {
      throw new DataError(`data 'fashion-mnist': the full-resolution Fashion-MNIST is not installed (expected ${FASHION_MNIST_DIR}); on Debian: apt-get install dataset-fashion-mnist, or give idx:DIR with the four IDX files`);
    }
    return { kind: 'idx', dir: FASHION_MNIST_DIR };
  }
  const u = /^(folder|npz|npy):(.*)$/.exec(s);
  if (u) return parseUserDataSpec(u[1] as UserDataKind, u[2]!, s);
  const m = /^(idx|cifar10|cifar100):(.+)$/.exec(s);
  if (!m) throw new ValueError(`data '${s}': expected fashion-mnist-14, fashion-mnist, idx:DIR, cifar10:DIR, cifar100:DIR, folder:DIR, npz:FILE or npy:FILE,labels=FILE`, { subject: 'data', expected: 'fashion-mnist-14, fashion-mnist, idx:DIR, cifar10:DIR, cifar100:DIR, folder:DIR, npz:FILE or npy:FILE,labels=FILE' });
  return { kind: m[1] as 'idx' | 'cifar10' | 'cifar100', dir: m[2] };
}

export function toTrainConfig(r: RecipeConfig): TrainConfig {
  return {
    epochs: r.epochs, batchSize: r.batchSize, lr: r.lr, seed: r.seed,
    augment: r.augment && (r.augmentPadding !== undefined || r.augmentFlip !== undefined) ? { padding: r.augmentPadding ?? 4, flip: r.augmentFlip ?? true } : r.augment,
    optimizer: r.optimizer === 'sgd'
      ? { kind: 'sgd', momentum: r.momentum, nesterov: r.nesterov, weightDecay: r.weightDecay }
      : { kind: 'adamw', weightDecay: r.weightDecay },
    schedule: r.schedule === 'cosine' ? { kind: 'cosine' }
      : r.schedule === 'step' ? { kind: 'step', stepSize: r.milestones[0] ?? Math.max(1, Math.floor(r.epochs / 3)), gamma: r.gamma }
      : r.schedule === 'multistep' ? { kind: 'multistep', milestones: r.milestones, gamma: r.gamma }
      : { kind: 'constant' },
  };
}

/**
 * Builds the named model (or the architecture of a `.onnx` file) for the dataset's image shape and
 * class count, initialized from seed.
 */
export function createModel(name: string, data: DatasetSplits, seed: number, width = 1): { graph: ModelGraph; params: Params } {
  const t = data.train;
  if (isOnnxPath(name)) return onnxArchitecture(name, [t.channels, t.height, t.width], t.numClasses, seed);
  const graph = buildModel(name, { numClasses: t.numClasses, inputShape: [t.channels, t.height, t.width], width });
  return { graph, params: initParams(graph, seed, modelEntry(name).init) };
}

export interface TrainRunHooks {
  checkpointDir?: string;
  resume?: boolean;
  onStep?(s: StepInfo): void;
  onEpoch?(e: EpochInfo): void;
  data?: DatasetSplits;
  /** Accept NaN/±Infinity values in a resumed checkpoint. */
  allowNonFinite?: boolean;
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

function prepareRun(cfg: TrainRunConfig, hooks: TrainRunHooks): { run: TrainRun; done: (r: TrainResult) => TrainRunResult } {
  const data = hooks.data ?? loadDataset(parseDataSpec(cfg.data));
  const { graph, params } = createModel(cfg.model, data, cfg.train.seed, cfg.width);
  const run: TrainRun = {
    graph, params, train: data.train, test: data.test, config: toTrainConfig(cfg.train),
    checkpointDir: hooks.checkpointDir, resume: hooks.resume, allowNonFinite: hooks.allowNonFinite,
    hooks: { onStep: hooks.onStep, onEpoch: hooks.onEpoch },
    metadata: { model: cfg.model, data: cfg.data },
  };
  const done = (r: TrainResult): TrainRunResult => {
    const c = countOps(graph);
    return { graph, params, final: r.final, epochs: r.epochs, macs: c.macs, paramCount: c.params, resumedFrom: r.resumedFrom };
  };
  return { run, done };
}

export function trainModelRun(cfg: TrainRunConfig, hooks: TrainRunHooks = {}): TrainRunResult {
  const { run, done } = prepareRun(cfg, hooks);
  return done(train(run));
}

/** {@link trainModelRun} that stops after the current step once `stop()` is true (see trainInterruptible). */
export async function trainModelRunInterruptible(cfg: TrainRunConfig, hooks: TrainRunHooks, stop: () => boolean): Promise<TrainRunResult> {
  const { run, done } = prepareRun(cfg, hooks);
  return done(await trainInterruptible(run, stop));
}

/**
 * The epoch record saved with the last epoch checkpoint in `dir` (read from its .json alone), so
 * a run killed between a checkpoint and its metrics line can write the line on resume.
 */
export function lastCheckpointedEpoch(dir: string): EpochInfo | undefined {
  const last = lastCheckpointEpoch(dir);
  if (last < 0) return undefined;
  const info = readCheckpointMeta(`${dir}/epoch_${last}`).training?.info;
  return info !== null && typeof info === 'object' ? (info as EpochInfo) : undefined;
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
