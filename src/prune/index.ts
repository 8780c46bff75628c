/** Structured pruning: dependency graph, groups, importance, regularizer, pruner, surgery. */
export { PruneError } from './errors.js';
export { PRUNE_RULES, isDepthwise, isLayer, type OpRule, type SliceRule, type FlowContext, type SliceKind, type ParamRole } from './rules.js';
export {
  buildDependencyGraph, prunableGroups, getGroups, layerNames, classifierOf, defaultIgnoredLayers, checkIgnoredLayers, checkGroupParams, ruleOf,
  type DependencyGraph, type Group, type GroupSlice, type GroupOptions,
} from './depgraph.js';
export {
  magnitudeImportance, bnScaleImportance, taylorImportance, randomImportance, normalizeImportance, reduceImportance, groupImportance, DEFAULT_IMPORTANCE,
  importanceByName, IMPORTANCE_NAMES, type ImportanceName,
  type Importance, type ImportanceContext, type MagnitudeOptions, type TaylorOptions, type GroupReduction, type Normalizer,
} from './importance.js';
export {
  regularizerGammas, regularizerCoefficients, regularizerGrad, addRegularizerGrad, regularizerHook, regularizerLoss,
  type RegularizerOptions,
} from './regularizer.js';
export { applyPruning, pruneGraph, removalMask, takeAlong, type Removal, type PrunedModel } from './surgery.js';
export {
  Pruner, pruneToSpeedup, replayHistory,
  type PrunerOptions, type SpeedupOptions, type SpeedupResult, type PruningHistory, type PruningStep, type StepResult,
} from './pruner.js';
export { sparseTrain, type SparseTrainOptions } from './sparse.js';
export { pruningPlan, type PruningPlan } from './plan.js';
