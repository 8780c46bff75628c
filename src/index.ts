/**
 * metaprune: structured pruning of CNNs in TypeScript, with Meta Pruning via graph metanetworks.
 * The CLI is a thin layer over these exports.
 */
export * from './tensor/index.js';
export * from './ir/graph.js';
export { GraphBuilder, type Sym, type ConvOptions } from './ir/builder.js';
export { inferShapes } from './ir/shapes.js';
export { forward, forwardWithCapture, type ForwardOptions } from './ir/forward.js';
export { countOps, formatCount, type OpCount, type LayerCount } from './ir/count.js';
export { initParams, cloneParams, type InitScheme } from './ir/init.js';
export * from './models/index.js';
export {
  DataError, loadDataset, batches, numBatches, epochOrder, subset, select, split as splitDataset, classCounts, augmentImage,
  readIdxFile, readIdxDir, readCifar10Dir, readCifar100Dir, readEmbedded, packageRoot, EMBEDDED_NAME, FASHION_MNIST_CLASSES,
  type Dataset, type DatasetSpec, type DatasetSplits, type Batch, type BatchOptions, type Normalization,
} from './data/index.js';
export { Sgd, AdamW, makeOptimizer, type Optimizer, type OptimizerConfig, type OptimizerState } from './train/optim.js';
export { lrAt, type ScheduleConfig } from './train/schedule.js';
export { train, lastCheckpointEpoch, TrainingError, DEFAULT_TRAIN, type TrainConfig, type TrainRun, type TrainResult, type EpochInfo, type StepInfo } from './train/loop.js';
export { evaluate, type EvalResult } from './train/evaluate.js';
export { trainModelRun, createModel, parseDataSpec, DEFAULT_TRAIN_RUN, DEFAULT_RECIPE, type TrainRunConfig, type RecipeConfig } from './train/run.js';
export { saveCheckpoint, loadCheckpoint, checkpointExists, CheckpointError, type Checkpoint } from './io/checkpoint.js';
export { saveTensorFile, loadTensorFile } from './io/tensor-file.js';
export { writeFileAtomic, writeJsonAtomic } from './io/atomic.js';
