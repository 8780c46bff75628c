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
export { claimRunDir, acquireRunLock, readManifest, RunDirError, type RunDirMode, type RunLock, type ClaimOptions } from './io/run-dir.js';
export { trainInterruptible, TrainingInterrupted } from './train/loop.js';
export { Interrupted } from './train/interrupt.js';
export { trainModelRunInterruptible } from './train/run.js';
export { metaTrainInterruptible } from './meta/metatrain.js';
export * from './io/onnx/index.js';
export * from './prune/index.js';
export * from './graph/index.js';
export { Metanet, saveMetanet, loadMetanet, metanetApply, type MetanetConfig, type LoadedMetanet } from './meta/metanet.js';
export { buildZoo, readZoo, loadDataModel, trainDataModel, DEFAULT_ZOO, type Zoo, type ZooConfig, type ZooEntry, type DataModel } from './meta/zoo.js';
export { metaTrain, metaGradient, metanetPath, DEFAULT_META_TRAIN, type MetaTrainConfig, type MetaStepInfo, type MetaGradient } from './meta/metatrain.js';
export { accuracySpeedupCurve, farAccuracy, DEFAULT_CURVE, type CurvePoint, type CurveOptions } from './meta/curves.js';
export { chooseCheckpoint, runSelectJob, selectJobs, type SelectConfig, type SelectionResult, type CurveFamilyMember } from './meta/select.js';
export { runCompareJob, compareJobs, summarize, formatCompareTable, ARMS, type Arm, type CompareConfig, type CompareRow, type CompareSummaryRow } from './meta/compare.js';
export { runPipeline, quickConfig, DEFAULT_PIPELINE, STAGES, type PipelineConfig, type PipelineResult, type Stage } from './meta/pipeline.js';
export { recalibrateBn } from './train/bn-recalibrate.js';
export { finetune } from './train/run.js';
export { buildRunReport } from './report/run-report.js';
export { lineChart, barChart } from './report/charts.js';
export { renderReport, writeReport } from './report/html.js';
export {
  fromRaw, computeStats, readImageFolder, readNpzImages, readNpyImages, rawFromArrays, splitByRatio, decodeImage, transformImage,
  type RawImages, type NormalizeOption, type UserDataOptions, type ImageOptions, type ImageFolder,
} from './data/index.js';
export { parseNpy, parseNpz, encodeNpy, encodeNpz, type NdArray, type NpyDType } from './io/npy.js';
export { parseSafetensors, encodeSafetensors } from './io/safetensors.js';
export { readStateDict, paramsFromStateDict, StateDictError, type StateDict } from './io/state-dict.js';
export { ArrayFileError } from './io/array-error.js';
export { torchvisionNames } from './models/torchvision-names.js';
export { onnxArchitecture, isOnnxPath } from './models/onnx-architecture.js';
export { metaPrune, quickMetaPruneConfig, layerWidths, DEFAULT_META_PRUNE, type MetaPruneConfig, type MetaPruneReport } from './meta/meta-prune.js';
export { MetapruneError, ValueError, type ErrorCode, type ErrorInfo } from './errors.js';
