/**
 * Supervised training of an IR model: epochs of mini-batch SGD/AdamW with a schedule, optional
 * extra gradient terms (the group-sparsity regularizer), per-epoch atomic checkpoints and
 * bit-identical resume (batch order and augmentation derive from (seed, epoch); params, BN
 * buffers and optimizer buffers are checkpointed).
 */
import { MetapruneError } from '../errors.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { valueAndGrad } from '../tensor/autograd.js';
import { residentScope } from '../tensor/backends/fast.js';
import { crossEntropy } from '../tensor/ops/softmax.js';
import { forward } from '../ir/forward.js';
import { trainableNames, type ModelGraph, type Params } from '../ir/graph.js';
import { batches, numBatches, type Dataset } from '../data/index.js';
import { checkpointExists, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { makeOptimizer, type OptimizerConfig } from './optim.js';
import { lrAt, type ScheduleConfig } from './schedule.js';
import { evaluate, type EvalResult } from './evaluate.js';

export class TrainingError extends MetapruneError {
  constructor(message: string) {
    super('training', message);
    this.name = 'TrainingError';
  }
}

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  seed: number;
  augment?: boolean;
}

export const DEFAULT_TRAIN: TrainConfig = {
  epochs: 5,
  batchSize: 128,
  lr: 0.05,
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'cosine' },
  seed: 0,
  augment: false,
};

export interface StepInfo {
  epoch: number;
  step: number;
  steps: number;
  loss: number;
  lr: number;
}

export interface EpochInfo {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAcc: number;
  test?: EvalResult;
  seconds: number;
}

export interface TrainHooks {
  /**
   * Adds extra gradient terms in place (e.g. the regularizer's γ-weighted decay) before the update.
   * Runs inside the step's residentScope: keep no reference to a gradient after it returns.
   */
  extraGrad?(params: Params, grads: Record<string, Tensor>): void;
  onStep?(s: StepInfo): void;
  onEpoch?(e: EpochInfo): void;
}

export interface TrainRun {
  graph: ModelGraph;
  /** Updated in place (like a PyTorch module's state). */
  params: Params;
  train: Dataset;
  test?: Dataset;
  config: TrainConfig;
  /** Directory for per-epoch checkpoints (`epoch_<k>.json/.bin`); none when omitted. */
  checkpointDir?: string;
  /** Continue from the last complete checkpoint in checkpointDir. */
  resume?: boolean;
  /** Stop after this many epochs in this call (to test resume); default: all. */
  stopAfter?: number;
  hooks?: TrainHooks;
  metadata?: Record<string, unknown>;
}

export interface TrainResult {
  params: Params;
  epochs: EpochInfo[];
  final?: EvalResult;
  resumedFrom: number;
}

/** Last complete epoch checkpoint in dir, or -1. */
export function lastCheckpointEpoch(dir: string): number {
  if (!existsSync(dir)) return -1;
  let best = -1;
  for (const f of readdirSync(dir)) {
    const m = /^epoch_(\d+)\.json$/.exec(f);
    if (m && checkpointExists(join(dir, `epoch_${m[1]}`))) best = Math.max(best, Number(m[1]));
  }
  return best;
}

export function train(run: TrainRun): TrainResult {
  const { graph, params, config: c } = run;
  const names = trainableNames(graph);
  const opt = makeOptimizer(c.optimizer);
  let start = 0;
  if (run.resume && run.checkpointDir) {
    const last = lastCheckpointEpoch(run.checkpointDir);
    if (last >= 0) {
      const ck = loadCheckpoint(join(run.checkpointDir, `epoch_${last}`));
      for (const [k, t] of Object.entries(ck.params)) {
        if (params[k] === undefined || params[k].size !== t.size) throw new TrainingError(`resume: checkpoint epoch_${last} does not match the model (parameter '${k}')`);
        (params[k].data as Float32Array).set(t.data);
      }
      opt.load({ step: ck.training?.optimizer?.step ?? 0, buffers: ck.optimizerBuffers ?? {} });
      start = last + 1;
    }
  }
  const epochs: EpochInfo[] = [];
  const steps = numBatches(run.train.n, c.batchSize);
  const end = run.stopAfter !== undefined ? Math.min(c.epochs, start + run.stopAfter) : c.epochs;
  for (let epoch = start; epoch < end; epoch++) {
    const t0 = performance.now();
    const lr = lrAt(c.schedule, c.lr, epoch, c.epochs);
    let lossSum = 0, correct = 0, seen = 0, step = 0;
    for (const b of batches(run.train, c.batchSize, { shuffle: true, seed: c.seed, epoch, augment: c.augment })) {
      // One step in a resident scope: activations and their gradients stay in the backend's memory
      // between ops and are reclaimed at once; only numbers leave it (gradients of parameters are
      // plain arrays, applied inside).
      const { loss, ok } = residentScope(() => {
        const x = new Tensor(b.x, b.shape);
        const trainable: Record<string, Tensor> = {};
        for (const n of names) trainable[n] = params[n];
        let ok = 0;
        const { value, grads } = valueAndGrad((p: Record<string, Tensor>) => {
          const logits = forward(graph, { ...params, ...p }, x, { training: true });
          ok = countCorrect(logits.data, b.y);
          return crossEntropy(logits, b.y);
        })(trainable);
        const loss = value.item();
        if (!Number.isFinite(loss)) throw new TrainingError(`loss became ${loss} at epoch ${epoch + 1}, step ${step + 1} (lr ${lr}); lower the learning rate`);
        run.hooks?.extraGrad?.(params, grads);
        opt.step(params, grads, lr);
        return { loss, ok };
      });
      lossSum += loss * b.n;
      seen += b.n;
      correct += ok;
      step++;
      run.hooks?.onStep?.({ epoch, step, steps, loss, lr });
    }
    const info: EpochInfo = {
      epoch, lr, trainLoss: lossSum / seen, trainAcc: correct / seen,
      test: run.test ? evaluate(graph, params, run.test) : undefined,
      seconds: (performance.now() - t0) / 1000,
    };
    epochs.push(info);
    if (run.checkpointDir) {
      const st = opt.state();
      saveCheckpoint(join(run.checkpointDir, `epoch_${epoch}`), {
        graph, params, metadata: { ...(run.metadata ?? {}), testAcc: info.test?.acc },
        training: { epoch, optimizer: { kind: opt.kind, step: st.step } },
        optimizerBuffers: st.buffers,
      });
    }
    run.hooks?.onEpoch?.(info);
  }
  return { params, epochs, final: epochs[epochs.length - 1]?.test, resumedFrom: start };
}

function countCorrect(logits: Float32Array | Float64Array, y: Int32Array): number {
  const C = logits.length / y.length;
  let ok = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
    if (best === y[i]) ok++;
  }
  return ok;
}
