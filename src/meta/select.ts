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
import { loadDataModel, type ZooEntry } from './zoo.js';

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

/** One member of the curve family (an epoch, or the original models): a job that can run in a worker. */
export interface SelectJob {
  epoch: number | null;
  /** Metanetwork checkpoint of that epoch (null for the original). */
  metanetPath: string | null;
  zooDir: string;
  entries: ZooEntry[];
  cfg: SelectConfig;
  seed: number;
}

export function runSelectJob(job: SelectJob, train: Dataset, val: Dataset): CurveFamilyMember {
  const { cfg } = job;
  const metanet = job.metanetPath === null ? null : loadMetanet(job.metanetPath).metanet;
  const curves = job.entries.map((e, i) => {
    const dm = loadDataModel({ dir: job.zooDir, baseMacs: 0, entries: job.entries }, e);
    const p = cloneParams(metanet ? noGrad(() => metanet.apply(dm.graph, dm.params)) : dm.params);
    adapt(dm.graph, p, train, cfg.adapt, job.seed + i);
    return { model: e.index, curve: accuracySpeedupCurve(dm.graph, p, val, cfg.curve) };
  });
  const { start, far } = meanCurveStats(curves.map((c) => c.curve), cfg.farFrom);
  return { epoch: job.epoch, startAcc: start, farAcc: far, curves, eligible: true };
}

/** Jobs for the original models and every candidate epoch. */
export function selectJobs(metanetPathOf: (e: number) => string, zooDir: string, entries: ZooEntry[], cfg: SelectConfig, seed = 0): SelectJob[] {
  return [null, ...cfg.epochs].map((epoch) => ({ epoch, metanetPath: epoch === null ? null : metanetPathOf(epoch), zooDir, entries, cfg, seed }));
}

/** Applies the selection rule to the evaluated family (the member with epoch null is the original). */
export function chooseCheckpoint(members: CurveFamilyMember[], cfg: SelectConfig): SelectionResult {
  const original = members.find((m) => m.epoch === null)!;
  const family = members.filter((m) => m.epoch !== null).sort((a, b) => a.epoch! - b.epoch!);
  let best: CurveFamilyMember | undefined;
  for (const m of family) {
    m.eligible = m.startAcc >= original.startAcc - cfg.tolerance;
    if (m.eligible && (best === undefined || m.farAcc > best.farAcc)) best = m;
  }
  return {
    chosen: best?.epoch ?? family[0]?.epoch ?? -1,
    original,
    family,
    rule: `highest mean validation accuracy at speed-ups ≥ ${cfg.farFrom}× among epochs whose unpruned accuracy is within ${(100 * cfg.tolerance).toFixed(1)} pt of the original's`,
  };
}
