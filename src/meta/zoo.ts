/**
 * The data-model zoo (method §3.1): N models of one architecture trained on one dataset with
 * different seeds, optionally pre-pruned lightly with the group-L2 criterion and finetuned, then
 * split into meta-train and held-out sets. Resumable: every finished model is saved with an
 * atomic checkpoint and recorded in zoo.json, and a re-run skips the models it already has.
 */
import { MetapruneError, ValueError } from '../errors.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cloneGraph, type ModelGraph, type Params } from '../ir/graph.js';
import { countOps } from '../ir/count.js';
import { subset, type DatasetSplits } from '../data/index.js';
import { train } from '../train/loop.js';
import { createModel, finetune, toTrainConfig, type RecipeConfig } from '../train/run.js';
import { evaluate } from '../train/evaluate.js';
import { checkpointExists, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { insideDir } from '../io/run-dir.js';
import { assertResumable } from './resume-check.js';
import { pruneToSpeedup } from '../prune/index.js';
import { runJobs, type DataRecipe, type JobQueueTarget } from './workers.js';

export interface ZooConfig {
  model: string;
  width: number;
  /** Number of data models. */
  count: number;
  /** How many of them are held out (the last ones), for checkpoint selection and evaluation. */
  heldOut: number;
  /** Seed of the first model; model i uses seed + i. */
  seed: number;
  /** Train on a class-agnostic random subset of this many images (0: the whole train split). */
  trainImages: number;
  recipe: RecipeConfig;
  /** Light pre-pruning (method §3.1); speedup ≤ 1 disables it. */
  prePrune: { speedup: number; finetuneEpochs: number; lr: number };
}

export const DEFAULT_ZOO: ZooConfig = {
  model: 'smallcnn', width: 1, count: 12, heldOut: 4, seed: 100, trainImages: 0,
  recipe: { epochs: 4, batchSize: 128, lr: 0.05, optimizer: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4, schedule: 'cosine', milestones: [], gamma: 0.1, augment: false, seed: 0 },
  prePrune: { speedup: 1.2, finetuneEpochs: 1, lr: 0.01 },
};

export interface ZooEntry {
  index: number;
  seed: number;
  split: 'train' | 'heldout';
  /** Checkpoint path (without extension), relative to the zoo directory. */
  path: string;
  /** Test accuracy after training (and pre-pruning + finetune). */
  acc: number;
  /** Test accuracy before pre-pruning. */
  trainedAcc: number;
  speedup: number;
  macs: number;
  seconds: number;
}

export interface Zoo {
  dir: string;
  baseMacs: number;
  entries: ZooEntry[];
  /** The settings the models were made with (zoo.json of runs before they were recorded: absent). */
  config?: ZooConfig;
  data?: DataRecipe;
}

export interface DataModel {
  entry: ZooEntry;
  graph: ModelGraph;
  params: Params;
}

const INDEX = 'zoo.json';

export function readZoo(dir: string): Zoo {
  const f = join(dir, INDEX);
  if (!existsSync(f)) throw new MetapruneError('io', `${f}: not found; run \`metaprune zoo\` first`, { subject: f, expected: 'a zoo directory made by `metaprune zoo`' });
  const z = JSON.parse(readFileSync(f, 'utf8')) as Omit<Zoo, 'dir'>;
  return { dir, ...z, entries: z.entries.filter((e) => checkpointExists(modelPath(dir, e))) };
}

/** A data model's checkpoint path; zoo.json is data, so its paths must stay inside the zoo directory. */
function modelPath(dir: string, e: ZooEntry): string {
  if (typeof e.path !== 'string') throw new MetapruneError('checkpoint', `${join(dir, INDEX)}: entry ${e.index} has no model path`);
  return insideDir(dir, e.path, `${join(dir, INDEX)}: entry ${e.index}`);
}

export function loadDataModel(zoo: Zoo, e: ZooEntry): DataModel {
  const c = loadCheckpoint(modelPath(zoo.dir, e));
  return { entry: e, graph: c.graph, params: c.params };
}

export interface ZooHooks {
  onModel?(e: ZooEntry, done: number, total: number): void;
  onStart?(index: number): void;
  /** Polled between models: when true, stop (finished models are saved) and throw Interrupted. */
  stop?(): boolean;
}

/** The last `heldOut` models are held out of meta-training. */
function splitOf(cfg: ZooConfig, index: number): 'train' | 'heldout' {
  return index >= cfg.count - cfg.heldOut ? 'heldout' : 'train';
}

/** Trains, pre-prunes and saves data model `index` of the zoo; deterministic for (cfg, index). */
export function trainDataModel(cfg: ZooConfig, data: DatasetSplits, dir: string, index: number): ZooEntry {
  const seed = cfg.seed + index;
  const t0 = performance.now();
  const { graph: g0, params } = createModel(cfg.model, data, seed, cfg.width);
  const trainSet = cfg.trainImages > 0 ? subset(data.train, cfg.trainImages, seed) : data.train;
  train({ graph: g0, params, train: trainSet, config: { ...toTrainConfig(cfg.recipe), seed } });
  const trainedAcc = evaluate(g0, params, data.test).acc;
  let graph: ModelGraph = cloneGraph(g0);
  let p: Params = params;
  let speedup = 1;
  if (cfg.prePrune.speedup > 1) {
    const r = pruneToSpeedup(g0, params, { speedup: cfg.prePrune.speedup });
    graph = r.graph;
    p = r.params;
    speedup = r.speedup;
    finetune(graph, p, trainSet, { epochs: cfg.prePrune.finetuneEpochs, lr: cfg.prePrune.lr, seed });
  }
  const path = `models/model_${index}`;
  const entry: ZooEntry = {
    index, seed, split: splitOf(cfg, index), path,
    acc: evaluate(graph, p, data.test).acc, trainedAcc, speedup, macs: countOps(graph).macs, seconds: (performance.now() - t0) / 1000,
  };
  saveCheckpoint(join(dir, path), { graph, params: p, metadata: { zoo: entry } });
  return entry;
}

export interface ZooParallel {
  /** Worker threads training models concurrently (1: in this thread). */
  workers: number;
  /** How a worker rebuilds the same data (it cannot receive the arrays cheaply). */
  loadData: DataRecipe;
  /** Train on queue workers instead (see workers.ts). */
  queue?: JobQueueTarget;
}

/**
 * The zoo already in `dir` (null: none), after checking it was made with `cfg` and data `recipe`:
 * more or fewer models, or another held-out split, reuse the trained ones; any other difference
 * would mix two zoos, so it throws.
 */
export function assertZooResumable(dir: string, cfg: ZooConfig, recipe?: DataRecipe): Zoo | null {
  if (!existsSync(join(dir, INDEX))) return null;
  const z = readZoo(dir);
  if (z.config) assertResumable('data models', dir, { ...z.config, data: z.data ?? recipe }, { ...cfg, data: recipe }, ['count', 'heldOut']);
  return z;
}

/** Trains the zoo into `dir`, skipping models already present (resume). */
export async function buildZoo(cfg: ZooConfig, data: DatasetSplits, dir: string, hooks: ZooHooks = {}, parallel?: ZooParallel): Promise<Zoo> {
  if (cfg.heldOut < 1 || cfg.heldOut >= cfg.count) throw new ValueError(`zoo: heldOut must be between 1 and count-1 (count ${cfg.count}, heldOut ${cfg.heldOut})`);
  const recipe = parallel?.loadData;
  const existing = assertZooResumable(dir, cfg, recipe)?.entries ?? [];
  const baseMacs = countOps(createModel(cfg.model, data, cfg.seed, cfg.width).graph).macs;
  const entries: ZooEntry[] = [];
  const todo: number[] = [];
  for (let i = 0; i < cfg.count; i++) {
    const prev = existing.find((e) => e.index === i && e.seed === cfg.seed + i);
    if (prev) entries.push({ ...prev, split: splitOf(cfg, i) });
    else todo.push(i);
  }
  const finish = (e: ZooEntry) => {
    entries.push(e);
    entries.sort((a, b) => a.index - b.index);
    writeJsonAtomic(join(dir, INDEX), { baseMacs, config: cfg, data: recipe, entries });
    hooks.onModel?.(e, entries.length, cfg.count);
  };
  await runJobs('zoo-model', todo.map((index) => ({ cfg, dir, index })), {
    workers: parallel?.workers ?? 1, recipe: parallel?.loadData ?? { spec: '', valImages: 0, splitSeed: 0 }, queue: parallel?.queue,
    inProcess: (j) => trainDataModel(cfg, data, dir, j.index),
    onStart: (j) => hooks.onStart?.(j.index), onResult: (e: ZooEntry) => finish(e), stop: hooks.stop,
  });
  writeJsonAtomic(join(dir, INDEX), { baseMacs, config: cfg, data: recipe, entries });
  return { dir, baseMacs, entries };
}
