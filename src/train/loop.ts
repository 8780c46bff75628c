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
import { batches, numBatches, type AugmentOptions, type Dataset } from '../data/index.js';
import { CheckpointError, checkpointExists, loadCheckpoint, readCheckpointMeta, removeCheckpoint, saveCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { firstNonFinite } from '../io/tensor-file.js';
import { drain, drainInterruptible, Interrupted } from './interrupt.js';
import { makeOptimizer, type Optimizer, type OptimizerConfig } from './optim.js';
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
  /** Random crop with padding + horizontal flip (`true`: padding 4 and flip). */
  augment?: boolean | AugmentOptions;
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
  /** Accept NaN/±Infinity values in a resumed checkpoint (default: refuse). */
  allowNonFinite?: boolean;
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

/** Thrown by {@link trainInterruptible} when asked to stop; a checkpoint of the step reached was saved. */
export class TrainingInterrupted extends Interrupted {
  constructor(readonly epoch: number, readonly step: number, readonly checkpoint: string | undefined) {
    super(`interrupted at epoch ${epoch + 1}, step ${step}${checkpoint !== undefined ? `; saved ${checkpoint}` : ' (no checkpoint directory: nothing saved)'}`);
    this.name = 'TrainingInterrupted';
  }
}

/** The mid-epoch checkpoint an interrupted run leaves in its checkpoint directory. */
export const INTERRUPTED_CHECKPOINT = 'interrupted';

/** Trains to the end (or `stopAfter` epochs). */
export function train(run: TrainRun): TrainResult {
  return drain(trainSteps(run));
}

/**
 * Like {@link train} but yields to the event loop after every step, so a signal handler can run;
 * when `stop()` turns true it finishes the current step, saves a mid-epoch checkpoint (resumed
 * bit-identically by `resume`) and throws {@link TrainingInterrupted}.
 */
export function trainInterruptible(run: TrainRun, stop: () => boolean): Promise<TrainResult> {
  return drainInterruptible(trainSteps(run), stop);
}

interface EpochProgress { epoch: number; step: number; lossSum: number; correct: number; seen: number }

/** Throws unless every element of the named arrays is finite (NaN/±Infinity would poison the run silently). */
function assertFinite(what: string, arrays: Record<string, Tensor>, where: string): void {
  for (const [name, t] of Object.entries(arrays)) {
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw new TrainingError(`${what} of '${name}' became ${t.data[bad]} (element ${bad}) ${where}; lower the learning rate or check the data`);
  }
}

/** Restores params and optimizer state from a checkpoint, checking they belong to this model and optimizer. */
function restore(path: string, run: TrainRun, opt: Optimizer): Checkpoint {
  const ck = loadCheckpoint(path, { allowNonFinite: run.allowNonFinite });
  const { params } = run;
  for (const [k, t] of Object.entries(ck.params)) {
    if (params[k] === undefined || params[k].size !== t.size) throw new TrainingError(`resume: ${path}.json does not match the model (parameter '${k}')`);
  }
  const kind = ck.training?.optimizer?.kind;
  if (kind !== undefined && kind !== opt.kind) throw new TrainingError(`resume: ${path}.json holds ${kind} optimizer state, this run uses ${opt.kind}`);
  for (const [k, b] of Object.entries(ck.optimizerBuffers ?? {})) {
    const owner = params[k] ?? params[k.replace(/\.[mv]$/, '')];
    if (owner === undefined || owner.size !== b.length) {
      throw new CheckpointError(`${path}.bin`, `optimizer buffer '${k}' has ${b.length} values, ${owner === undefined ? 'but no parameter of that name exists' : `parameter needs ${owner.size}`}`);
    }
  }
  for (const [k, t] of Object.entries(ck.params)) (params[k].data as Float32Array).set(t.data);
  opt.load({ step: ck.training?.optimizer?.step ?? 0, buffers: ck.optimizerBuffers ?? {} });
  return ck;
}

/** The training loop as a generator: yields after every step; `next(true)` asks it to stop there. */
function* trainSteps(run: TrainRun): Generator<void, TrainResult, boolean> {
  const { graph, params, config: c } = run;
  const names = trainableNames(graph);
  const opt = makeOptimizer(c.optimizer);
  let start = 0;
  let partial: EpochProgress | undefined;
  const dir = run.checkpointDir;
  const interruptedPath = dir !== undefined ? join(dir, INTERRUPTED_CHECKPOINT) : undefined;
  if (run.resume && dir !== undefined) {
    const last = lastCheckpointEpoch(dir);
    if (last >= 0) {
      restore(join(dir, `epoch_${last}`), run, opt);
      start = last + 1;
    }
    if (interruptedPath !== undefined && checkpointExists(interruptedPath)) {
      const p = readCheckpointMeta(interruptedPath).training?.partial as EpochProgress | undefined;
      if (p !== undefined && p.epoch === start) {
        restore(interruptedPath, run, opt);
        partial = p;
      }
    }
  }
  const epochs: EpochInfo[] = [];
  const steps = numBatches(run.train.n, c.batchSize);
  const end = run.stopAfter !== undefined ? Math.min(c.epochs, start + run.stopAfter) : c.epochs;
  for (let epoch = start; epoch < end; epoch++) {
    const t0 = performance.now();
    const lr = lrAt(c.schedule, c.lr, epoch, c.epochs);
    const resumeAt = partial?.epoch === epoch ? partial : undefined;
    let lossSum = resumeAt?.lossSum ?? 0, correct = resumeAt?.correct ?? 0, seen = resumeAt?.seen ?? 0, step = 0;
    for (const b of batches(run.train, c.batchSize, { shuffle: true, seed: c.seed, epoch, augment: c.augment })) {
      if (resumeAt !== undefined && step < resumeAt.step) { step++; continue; } // done before the interruption
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
        const where = `at epoch ${epoch + 1}, step ${step + 1} (lr ${lr})`;
        assertFinite('the gradient', grads, where);
        opt.step(params, grads, lr);
        const updated: Record<string, Tensor> = {};
        for (const n of Object.keys(grads)) updated[n] = params[n];
        assertFinite('the value', updated, `after the update ${where}`);
        return { loss, ok };
      });
      lossSum += loss * b.n;
      seen += b.n;
      correct += ok;
      step++;
      run.hooks?.onStep?.({ epoch, step, steps, loss, lr });
      const stop: boolean = yield;
      if (stop && step < steps) {
        if (interruptedPath !== undefined) {
          const st = opt.state();
          const at: EpochProgress = { epoch, step, lossSum, correct, seen };
          saveCheckpoint(interruptedPath, {
            graph, params, metadata: { ...(run.metadata ?? {}) },
            training: { epoch: epoch - 1, optimizer: { kind: opt.kind, step: st.step }, partial: at },
            optimizerBuffers: st.buffers,
          });
        }
        throw new TrainingInterrupted(epoch, step, interruptedPath);
      }
    }
    const info: EpochInfo = {
      epoch, lr, trainLoss: lossSum / seen, trainAcc: correct / seen,
      test: run.test ? evaluate(graph, params, run.test) : undefined,
      seconds: (performance.now() - t0) / 1000,
    };
    epochs.push(info);
    if (dir !== undefined) {
      const st = opt.state();
      saveCheckpoint(join(dir, `epoch_${epoch}`), {
        graph, params, metadata: { ...(run.metadata ?? {}), testAcc: info.test?.acc },
        training: { epoch, optimizer: { kind: opt.kind, step: st.step }, info: { ...info } },
        optimizerBuffers: st.buffers,
      });
      if (resumeAt !== undefined && interruptedPath !== undefined) removeCheckpoint(interruptedPath);
    }
    run.hooks?.onEpoch?.(info);
    // a stop asked for during the last step of an epoch lands here, after its checkpoint
    if (epoch + 1 < end) {
      const stop: boolean = yield;
      if (stop) throw new TrainingInterrupted(epoch + 1, 0, dir !== undefined ? join(dir, `epoch_${epoch}`) : undefined);
    }
  }
  // Resuming a finished run trains nothing: its result is the last checkpoint's evaluation.
  const final = epochs[epochs.length - 1]?.test ?? (start > 0 && run.test ? evaluate(graph, params, run.test) : undefined);
  return { params, epochs, final, resumedFrom: start };
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
