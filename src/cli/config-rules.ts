/**
 * The value rules of every config key of every command, in one table (keys are dotted suffixes,
 * the longest match wins; see config.ts). The defaults objects give the types; this narrows them.
 */
import type { ConfigRules } from './config.js';
import type { Constraint } from './constraints.js';
import { MODELS } from '../models/index.js';
import { IMPORTANCE_NAMES } from '../prune/index.js';

const int = (min: number, max: number): Constraint => ({ integer: true, min, max });
const positive = (max: number): Constraint => ({ min: 0, minExclusive: true, max });
const range = (min: number, max: number): Constraint => ({ min, max });
const MAX_EPOCHS = 100_000;
const modelNames = (): readonly string[] => Object.keys(MODELS);

export const CONFIG_RULES: ConfigRules = {
  // models and data
  model: { choices: modelNames },
  width: positive(64),
  // training recipes (train.*, zoo.recipe.*) and the metanetwork's training (meta.*)
  epochs: int(1, MAX_EPOCHS),
  batchSize: int(1, 65_536),
  lr: positive(100),
  finetuneLr: positive(100),
  optimizer: { choices: ['sgd', 'adamw'] },
  momentum: range(0, 1),
  weightDecay: range(0, 1),
  schedule: { choices: ['cosine', 'step', 'multistep', 'constant'] },
  milestones: int(0, MAX_EPOCHS),
  gamma: { min: 0, minExclusive: true, max: 1 },
  seed: int(0, 4_294_967_295),
  // pruning
  speedup: { min: 1, minExclusive: true, max: 1000 },
  'prePrune.speedup': range(0, 1000),
  importance: { choices: IMPORTANCE_NAMES },
  iterativeSteps: int(1, 100_000),
  roundTo: int(1, 4096),
  finetuneEpochs: int(0, MAX_EPOCHS),
  metanetFinetuneEpochs: int(0, MAX_EPOCHS),
  // pipeline
  valImages: int(0, 10_000_000),
  workers: int(0, 1024),
  count: int(1, 10_000),
  heldOut: int(1, 10_000),
  trainImages: int(0, 10_000_000),
  'gnn.layers': int(1, 64),
  'gnn.hidden': int(1, 4096),
  'gnn.eps': range(0, 10),
  batchesPerStep: int(1, 10_000),
  reg: range(0, 1e6),
  regRatio: range(0, 1000),
  alpha: range(0, 1e6),
  'select.epochs': int(-1, MAX_EPOCHS), // -1: the untrained metanetwork
  every: int(1, MAX_EPOCHS),
  models: int(1, 10_000),
  tolerance: range(0, 1),
  farFrom: range(1, 1000),
  'adapt.kind': { choices: ['finetune', 'bn'] },
  'adapt.epochs': int(0, MAX_EPOCHS),
  images: int(0, 10_000_000),
  maxSpeedup: { min: 1, minExclusive: true, max: 1000 },
  'curve.points': { min: 1, minExclusive: true, max: 1000 },
  targets: { min: 1, minExclusive: true, max: 1000 },
  seeds: int(1, 10_000),
  maxPruningRatio: { min: 0, minExclusive: true, max: 1 },
  // study
  'study.mode': { choices: ['one-at-a-time', 'factorial'] },
  'study.bootstrap': int(1, 10_000_000),
  'study.confidence': { min: 0.5, max: 0.999 },
};
