/**
 * Checkpoint (= strength) selection (method §3.3). For each candidate metanetwork epoch and each
 * held-out data model: θ' = M(θ), the same adaptation every arm gets, then the accuracy-vs-speed-up
 * curve without finetuning on VALIDATION images (never the test set). The original models get
 * the same treatment. Rule: among epochs whose mean unpruned accuracy is within `tolerance` of the
 * original's, pick the one with the highest mean accuracy at speed-ups ≥ `farFrom` (the flattest
 * curve far out); ties go to the earlier epoch. The whole curve family is returned for plotting.
 */
import { noGrad } from '../tensor/autograd.js';
import { cloneParams } from '../ir/init.js';
import type { Dataset } from '../data/index.js';
import { adapt, type AdaptConfig } from './adapt.js';
import { accuracySpeedupCurve, farAccuracy, type CurveOptions, type CurvePoint } from './curves.js';
import { loadMetanet } from './metanet.js';
import type { DataModel } from './zoo.js';

export interface SelectConfig {
  /** Metanetwork epochs to evaluate (-1 = the untrained metanetwork). */
  epochs: number[];
  tolerance: number;
  farFrom: number;
  adapt: AdaptConfig;
  curve: CurveOptions;
}

export interface CurveFamilyMember {
  /** null for the original models (no metanetwork). */
  epoch: number | null;
  startAcc: number;
  farAcc: number;
  curves: { model: number; curve: CurvePoint[] }[];
  eligible: boolean;
}

export interface SelectionResult {
  chosen: number;
  original: CurveFamilyMember;
  family: CurveFamilyMember[];
  rule: string;
}

function meanCurveStats(curves: CurvePoint[][], farFrom: number): { start: number; far: number } {
  const start = curves.reduce((s, c) => s + c[0].acc, 0) / curves.length;
  const far = curves.reduce((s, c) => s + farAccuracy(c, farFrom), 0) / curves.length;
  return { start, far };
}

export function evaluateFamilyMember(
  epoch: number | null, metanetPathOf: (e: number) => string, models: DataModel[], train: Dataset, val: Dataset, cfg: SelectConfig, seed: number,
): CurveFamilyMember {
  const metanet = epoch === null ? null : loadMetanet(metanetPathOf(epoch)).metanet;
  const curves = models.map((dm, i) => {
    const params = metanet ? noGrad(() => metanet.apply(dm.graph, dm.params)) : cloneParams(dm.params);
    const p = cloneParams(params);
    adapt(dm.graph, p, train, cfg.adapt, seed + i);
    return { model: dm.entry.index, curve: accuracySpeedupCurve(dm.graph, p, val, cfg.curve) };
  });
  const { start, far } = meanCurveStats(curves.map((c) => c.curve), cfg.farFrom);
  return { epoch, startAcc: start, farAcc: far, curves, eligible: true };
}

export interface SelectHooks {
  onMember?(m: CurveFamilyMember): void;
}

export function selectCheckpoint(
  metanetPathOf: (e: number) => string, models: DataModel[], train: Dataset, val: Dataset, cfg: SelectConfig, seed = 0, hooks: SelectHooks = {},
): SelectionResult {
  const original = evaluateFamilyMember(null, metanetPathOf, models, train, val, cfg, seed);
  hooks.onMember?.(original);
  const family: CurveFamilyMember[] = [];
  for (const e of cfg.epochs) {
    const m = evaluateFamilyMember(e, metanetPathOf, models, train, val, cfg, seed);
    m.eligible = m.startAcc >= original.startAcc - cfg.tolerance;
    family.push(m);
    hooks.onMember?.(m);
  }
  let best: CurveFamilyMember | undefined;
  for (const m of family) if (m.eligible && (best === undefined || m.farAcc > best.farAcc)) best = m;
  const chosen = best?.epoch ?? cfg.epochs[0];
  return {
    chosen: chosen ?? -1,
    original,
    family,
    rule: `highest mean validation accuracy at speed-ups ≥ ${cfg.farFrom}× among epochs whose unpruned accuracy is within ${(100 * cfg.tolerance).toFixed(1)} pt of the original's`,
  };
}
