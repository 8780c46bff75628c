/**
 * Direct sparse training ("DepGraph with SL" baseline): the train loop of train/loop.ts with the
 * group-sparsity regularizer's gradient added at every step, before the optimizer update (as
 * Torch-Pruning calls `pruner.regularize(model)` after `loss.backward()`). Groups come from the
 * model being trained; γ is recomputed from the current weights at every step.
 */
import { train, type TrainResult, type TrainRun } from '../train/loop.js';
import type { GroupOptions } from './depgraph.js';
import type { Importance } from './importance.js';
import { regularizerHook } from './regularizer.js';

export interface SparseTrainOptions extends GroupOptions {
  /** Regularization strength (default 5e-4, Torch-Pruning's benchmark value for group sparsity). */
  reg?: number;
  /** γ range (default 16). */
  alpha?: number;
  /** Also decay biases (default false). */
  bias?: boolean;
  importance?: Importance;
}

export function sparseTrain(run: TrainRun, o: SparseTrainOptions = {}): TrainResult {
  const hook = regularizerHook(run.graph, { reg: o.reg ?? 5e-4, alpha: o.alpha ?? 16, bias: o.bias, importance: o.importance, ignoredLayers: o.ignoredLayers });
  const prev = run.hooks?.extraGrad;
  return train({
    ...run,
    hooks: {
      ...run.hooks,
      extraGrad(params, grads) {
        prev?.(params, grads);
        hook(params, grads);
      },
    },
  });
}
