/**
 * Meta-training (method §3.2): for each step one data model; generate θ' = M_φ(θ); the loss is
 * Σ_b CE_b(θ') over a few minibatches with BN in evaluation mode, plus the pruning regularizer
 * R(θ') (λ, α = 16, γ stop-gradient). The gradient reaches φ as ONE vector–Jacobian product:
 * g = ∇θ'(ΣCE + R) by ordinary network backprop on detached θ', then J_φ(θ')ᵀ g through the GNN.
 * AdamW (lr 1e-3, wd 5e-4) with a step decay; a metanetwork checkpoint every epoch; resumable.
 */
import { MetapruneError } from '../errors.js';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import type { Buf } from '../tensor/kernels.js';
import { backward, noGrad, valueAndGrad } from '../tensor/autograd.js';
import { residentScope } from '../tensor/backends/fast.js';
import { assertResumable } from './resume-check.js';
import { crossEntropy } from '../tensor/ops/softmax.js';
import { Rng } from '../tensor/random.js';
import { forward } from '../ir/forward.js';
import { trainableNames, type ModelGraph, type Params } from '../ir/graph.js';
import { graphPlan } from '../graph/plan.js';
import { batches, type Dataset } from '../data/index.js';
import { AdamW, type OptimizerState } from '../train/optim.js';
import { lrAt } from '../train/schedule.js';
import { regularizerGrad, getGroups, type Group } from '../prune/index.js';
import { Metanet, type MetanetConfig, saveMetanet, loadMetanet, metanetCheckpointExists } from './metanet.js';
import { readMetanetMeta } from './metanet-io.js';
import { drain, drainInterruptible, Interrupted } from '../train/interrupt.js';
import type { DataModel } from './zoo.js';

export interface MetaTrainConfig {
  gnn: MetanetConfig;
  epochs: number;
  lr: number;
  weightDecay: number;
  /** Epochs at which the lr is multiplied by gamma. */
  milestones: number[];
  gamma: number;
  /** Minibatches of CE per step (summed, as the reference does). */
  batchesPerStep: number;
  batchSize: number;
  /** Regularizer strength λ; 0 means: set it from regRatio at the first step. */
  reg: number;
  /** Target ‖∇R‖ / ‖∇ΣCE‖ used to set λ automatically (prototype: 0.3–0.5 worked). */
  regRatio: number;
  alpha: number;
  seed: number;
}

export const DEFAULT_META_TRAIN: MetaTrainConfig = {
  gnn: { layers: 4, hidden: 32, eps: 0.03, seed: 0 },
  epochs: 40, lr: 1e-3, weightDecay: 5e-4, milestones: [30], gamma: 0.1,
  batchesPerStep: 4, batchSize: 256, reg: 0, regRatio: 0.4, alpha: 16, seed: 0,
};

export interface MetaStepInfo {
  epoch: number;
  step: number;
  model: number;
  ce: number;
  r: number;
  gradCeNorm: number;
  gradRNorm: number;
  ratio: number;
  gradPhiNorm: number;
  reg: number;
  lr: number;
  seconds: number;
  /** θ' against θ: mean |γ'|/|γ| over BN channels, and the share of channels below half (diagnostics). */
  bnGammaRatio: number;
  bnGammaShrunk: number;
}

export interface MetaTrainHooks {
  onStep?(s: MetaStepInfo): void;
  onEpoch?(epoch: number, path: string): void;
}

function norm(grads: Record<string, Tensor>): number {
  let s = 0;
  for (const t of Object.values(grads)) for (let i = 0; i < t.size; i++) s += t.data[i] * t.data[i];
  return Math.sqrt(s);
}

/** ∇θ' Σ_b CE_b with BN in eval mode, for the trainable params; returns the summed CE too. */
export function ceGradient(graph: ModelGraph, params: Params, data: Dataset, nBatches: number, batchSize: number, seed: number, epoch: number): { ce: number; grads: Record<string, Tensor> } {
  const names = trainableNames(graph);
  const trainable: Record<string, Tensor> = {};
  for (const n of names) trainable[n] = params[n].detach();
  const total: Record<string, Tensor> = {};
  let ce = 0;
  let b = 0;
  for (const batch of batches(data, batchSize, { shuffle: true, seed, epoch })) {
    if (b++ >= nBatches) break;
    const x32 = new Tensor(batch.x, batch.shape);
    const x = params[names[0]].dtype === 'float64' ? x32.to('float64') : x32;
    // one batch in a resident scope (activations stay in the backend's memory); the sums it
    // adds to are plain arrays made outside
    ce += residentScope(() => {
      const { value, grads } = valueAndGrad((p: Record<string, Tensor>) =>
        crossEntropy(forward(graph, { ...params, ...p }, x, { training: false }), batch.y))(trainable);
      for (const n of names) {
        const g = grads[n];
        if (total[n] === undefined) total[n] = g.clone();
        else for (let i = 0; i < g.size; i++) total[n].data[i] += g.data[i];
      }
      return value.item();
    });
  }
  return { ce, grads: total };
}

export interface MetaGradientOptions {
  batches: number;
  batchSize: number;
  seed: number;
  epoch: number;
  alpha: number;
  /** λ, or a rule giving λ from ‖∇ΣCE‖ and ‖∇R‖ at λ = 1 (the automatic setting of the first step). */
  reg: number | ((gradCeNorm: number, gradR1Norm: number) => number);
  groups: Group[];
  /**
   * Run the metanetwork twice: without a tape for θ', then on the tape for the VJP, so its tape and
   * the CNN's activations are never held together (same bits, one more GNN forward). Default: on
   * for graphs with E·H ≥ 2^21 (ResNet-56: 98k edges; its meta-step peaked at 1.8 GB holding both).
   */
  rematerialize?: boolean;
}

/** E·H from which metaGradient rematerializes the metanetwork's tape by default. */
export const REMATERIALIZE_MIN_EDGE_CELLS = 2 ** 21;

export interface MetaGradient {
  /** Σ_b CE_b at θ'. */
  ce: number;
  /** R(θ') = (λ/2) Σ sg(γ)‖slice‖². */
  r: number;
  reg: number;
  gradCeNorm: number;
  gradR1Norm: number;
  /** ∂(ΣCE + R)/∂φ by name. */
  grads: Record<string, Tensor>;
  /** See MetaStepInfo. */
  bnGamma: BnGammaStats;
}

export interface BnGammaStats {
  ratio: number;
  shrunk: number;
}

/**
 * How a generated network moved its BN scales: mean |γ'|/|γ| over the channels of every affine BN
 * (γ = 0 skipped) and the share with |γ'| < |γ|/2. Meta-training logs it per step: shrinking the
 * weak channels' γ is what makes a network easy to prune, shrinking all of them is a collapse.
 */
export function bnGammaStats(graph: ModelGraph, before: Params, after: Params): BnGammaStats {
  let n = 0, sum = 0, shrunk = 0;
  for (const nd of graph.nodes) {
    if (nd.op !== 'batchnorm') continue;
    const a = before[`${nd.name}.weight`], b = after[`${nd.name}.weight`];
    if (a === undefined || b === undefined) continue;
    for (let c = 0; c < a.size; c++) {
      const g0 = Math.abs(a.data[c]);
      if (g0 === 0) continue;
      const r = Math.abs(b.data[c]) / g0;
      sum += r;
      n++;
      if (r < 0.5) shrunk++;
    }
  }
  return n === 0 ? { ratio: 1, shrunk: 0 } : { ratio: sum / n, shrunk: shrunk / n };
}

/**
 * The meta-gradient of one step (method §3.2): θ' = M_φ(θ) on the tape; g = ∇θ'ΣCE + ∇θ'R by
 * ordinary backprop on detached θ' (γ of R is a stop-gradient); then ONE vector–Jacobian product
 * J_φ(θ')ᵀ g through the metanetwork. No second-order terms.
 */
export function metaGradient(metanet: Metanet, dm: DataModel, data: Dataset, o: MetaGradientOptions): MetaGradient {
  const phi: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(metanet.params)) {
    const l = t.detach();
    l.requiresGrad = true;
    phi[k] = l;
  }
  const remat = o.rematerialize ?? graphPlan(dm.graph).numEdges * metanet.config.hidden >= REMATERIALIZE_MIN_EDGE_CELLS;
  let generated: Params | null = remat ? null : metanet.apply(dm.graph, dm.params, phi);
  const names = trainableNames(dm.graph);
  const gen: Params = { ...dm.params };
  const untaped = generated ?? noGrad(() => metanet.apply(dm.graph, dm.params, phi));
  for (const n of names) gen[n] = untaped[n].detach();
  const { ce, grads: gCe } = ceGradient(dm.graph, gen, data, o.batches, o.batchSize, o.seed, o.epoch);
  const gR1 = regularizerGrad(dm.graph, gen, o.groups, { reg: 1, alpha: o.alpha });
  const nCe = norm(gCe);
  const nR1 = norm(gR1);
  const reg = typeof o.reg === 'number' ? o.reg : o.reg(nCe, nR1);
  let r = 0;
  const outs: Tensor[] = [];
  const cot: Buf[] = [];
  for (const n of names) {
    const gc = gCe[n].data;
    const g = gc.slice();
    const gr = gR1[n]?.data;
    const w = gen[n].data;
    if (gr) {
      for (let i = 0; i < g.length; i++) {
        g[i] += reg * gr[i];
        r += 0.5 * reg * gr[i] * w[i];
      }
    }
    for (let i = 0; i < g.length; i++) {
      if (!Number.isFinite(g[i])) throw new MetapruneError('metanet', `meta-train: non-finite gradient for '${n}' of data model ${dm.entry.index} (epoch ${o.epoch + 1})`);
    }
    cot.push(g);
  }
  generated ??= metanet.apply(dm.graph, dm.params, phi);
  for (const n of names) outs.push(generated[n]);
  const leaves = Object.keys(phi).map((k) => phi[k]);
  const gPhi = backward(outs, cot, leaves);
  const grads: Record<string, Tensor> = {};
  Object.keys(phi).forEach((k, i) => (grads[k] = new Tensor(gPhi[i], phi[k].shape)));
  return { ce, r, reg, gradCeNorm: nCe, gradR1Norm: nR1, grads, bnGamma: bnGammaStats(dm.graph, dm.params, gen) };
}

export interface MetaTrainResult {
  metanet: Metanet;
  reg: number;
  checkpoints: string[];
}

/** Path of the metanetwork checkpoint of an epoch. */
export function metanetPath(dir: string, epoch: number): string {
  return join(dir, `metanet_epoch_${epoch}`);
}

/** Last meta-training epoch with a checkpoint in dir (up to cfg.epochs), or -1. */
function lastMetaEpoch(dir: string, cfg: MetaTrainConfig): number {
  let last = -1;
  for (let e = 0; e < cfg.epochs; e++) if (metanetCheckpointExists(metanetPath(dir, e))) last = e;
  return last;
}

/**
 * Throws when the checkpoints in dir were made with settings other than cfg: training longer
 * continues a run, anything else would mix two (checkpoints of older versions carry no record).
 */
export function assertMetaResumable(dir: string, cfg: MetaTrainConfig, meta?: Record<string, unknown>): void {
  if (meta === undefined) {
    const last = lastMetaEpoch(dir, cfg);
    if (last < 0) return;
    meta = readMetanetMeta(metanetPath(dir, last)); // the settings only: no metanetwork is built
  }
  if (meta.config !== undefined) assertResumable('metanetwork checkpoints', dir, meta.config, cfg, ['epochs']);
}

export function metaTrain(models: DataModel[], data: Dataset, cfg: MetaTrainConfig, dir: string, hooks: MetaTrainHooks = {}, resume = true): MetaTrainResult {
  return drain(metaTrainSteps(models, data, cfg, dir, hooks, resume));
}

/**
 * {@link metaTrain} that stops after the current step once `stop()` is true, throwing Interrupted;
 * the epoch in progress is redone on resume (checkpoints are per epoch).
 */
export function metaTrainInterruptible(models: DataModel[], data: Dataset, cfg: MetaTrainConfig, dir: string, hooks: MetaTrainHooks, stop: () => boolean): Promise<MetaTrainResult> {
  return drainInterruptible(metaTrainSteps(models, data, cfg, dir, hooks, true), stop);
}

function* metaTrainSteps(models: DataModel[], data: Dataset, cfg: MetaTrainConfig, dir: string, hooks: MetaTrainHooks, resume: boolean): Generator<void, MetaTrainResult, boolean> {
  if (models.length === 0) throw new MetapruneError('metanet', 'meta-train: no data models');
  let metanet = new Metanet(cfg.gnn);
  const opt = new AdamW({ weightDecay: cfg.weightDecay });
  let reg = cfg.reg;
  let start = 0;
  const checkpoints: string[] = [];
  if (resume) {
    const last = lastMetaEpoch(dir, cfg);
    if (last >= 0) {
      const ck = loadMetanet(metanetPath(dir, last));
      assertMetaResumable(dir, cfg, ck.meta);
      metanet = ck.metanet;
      opt.load(ck.optimizer as OptimizerState);
      reg = ck.meta.reg as number;
      start = last + 1;
      for (let e = 0; e <= last; e++) checkpoints.push(metanetPath(dir, e));
    }
  }
  // Epoch "-1": the untrained metanetwork, so the curve family starts at identity.
  if (start === 0) {
    saveMetanet(metanetPath(dir, -1), metanet, { epoch: -1, reg, config: cfg });
  }
  const groupsCache = new Map<ModelGraph, Group[]>();
  const groupsFor = (g: ModelGraph): Group[] => {
    let groups = groupsCache.get(g);
    if (!groups) groupsCache.set(g, (groups = getGroups(g)));
    return groups;
  };
  let step = start * models.length;
  for (let epoch = start; epoch < cfg.epochs; epoch++) {
    const lr = lrAt({ kind: 'multistep', milestones: cfg.milestones, gamma: cfg.gamma }, cfg.lr, epoch, cfg.epochs);
    const order = models.map((_, i) => i);
    new Rng(cfg.seed * 7919 + epoch).shuffle(order);
    for (const mi of order) {
      const t0 = performance.now();
      const dm = models[mi];
      const { ce, r: rValue, gradCeNorm: nCe, gradR1Norm: nR1, reg: usedReg, grads, bnGamma } = metaGradient(metanet, dm, data, {
        batches: cfg.batchesPerStep, batchSize: cfg.batchSize, seed: cfg.seed + step, epoch, alpha: cfg.alpha,
        reg: reg > 0 ? reg : (c, r1) => (r1 > 0 ? (cfg.regRatio * c) / r1 : 1),
        groups: groupsFor(dm.graph),
      });
      reg = usedReg;
      opt.step(metanet.params, grads, lr);
      step++;
      hooks.onStep?.({
        epoch, step, model: dm.entry.index, ce, r: rValue, gradCeNorm: nCe, gradRNorm: reg * nR1, ratio: nCe > 0 ? (reg * nR1) / nCe : 0,
        gradPhiNorm: norm(grads), reg, lr, seconds: (performance.now() - t0) / 1000,
        bnGammaRatio: bnGamma.ratio, bnGammaShrunk: bnGamma.shrunk,
      });
      // a stop asked for during an epoch's last step waits for its checkpoint (below)
      if ((yield) && mi !== order[order.length - 1]) {
        throw new Interrupted(`meta-train stopped at epoch ${epoch + 1}, step ${step}; it resumes from ${epoch > 0 ? metanetPath(dir, epoch - 1) : 'the start'} (epoch ${epoch + 1} is redone)`);
      }
    }
    const path = metanetPath(dir, epoch);
    saveMetanet(path, metanet, { epoch, reg, config: cfg }, opt.state());
    checkpoints.push(path);
    hooks.onEpoch?.(epoch, path);
    if (epoch + 1 < cfg.epochs && (yield)) throw new Interrupted(`meta-train stopped after epoch ${epoch + 1}; saved ${path}`);
  }
  return { metanet, reg, checkpoints };
}
