// The study: cells from a grid, paired statistics on hand-made rows, and a miniature study that resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { DEFAULT_PIPELINE } from '../../src/meta/pipeline.js';
import { cellStatistics, runStudy, studyCells, withOverrides, DEFAULT_STUDY_SETTINGS, type StudyConfig } from '../../src/meta/study.js';
import type { CompareRow } from '../../src/meta/compare.js';

const base: StudyConfig = { ...DEFAULT_PIPELINE, study: DEFAULT_STUDY_SETTINGS };

test('studyCells: one axis at a time skips the base value; factorial crosses; points come last', () => {
  const oat = studyCells({ ...base, study: { ...base.study, grid: { 'compare.finetuneEpochs': [2, 10], 'compare.adapt.kind': ['finetune', 'bn'] }, points: { ref: { 'meta.epochs': 100 } } } });
  assert.deepEqual(oat.map((c) => c.name), ['base', 'compare.finetuneEpochs=10', 'compare.adapt.kind="bn"', 'ref']);
  assert.deepEqual(oat[1].overrides, { 'compare.finetuneEpochs': 10 });
  const fac = studyCells({ ...base, study: { ...base.study, mode: 'factorial', grid: { 'compare.finetuneEpochs': [2, 10], 'compare.adapt.kind': ['finetune', 'bn'] } } });
  assert.deepEqual(fac.map((c) => c.name), ['base', 'compare.adapt.kind="bn"', 'compare.finetuneEpochs=10', 'compare.finetuneEpochs=10 compare.adapt.kind="bn"']);
});

test('withOverrides: sets nested keys on a copy, refuses unknown keys and other kinds of value', () => {
  const c = withOverrides(base, { 'compare.adapt.kind': 'bn', 'meta.gnn.hidden': 64 });
  assert.equal(c.compare.adapt.kind, 'bn');
  assert.equal(c.meta.gnn.hidden, 64);
  assert.equal(base.compare.adapt.kind, 'finetune');
  assert.throws(() => withOverrides(base, { 'compare.finetuneEpoch': 3 }), /'compare.finetuneEpoch' is not a config key/);
  assert.throws(() => withOverrides(base, { 'compare.finetuneEpochs': '3' }), /expects number, got string/);
  assert.throws(() => withOverrides(base, { 'compare.targets.x': 3 }), /not a section/);
});

function row(arm: CompareRow['arm'], model: number, seed: number, accFinal: number, accPruned: number): CompareRow {
  return { arm, model, seed, target: 2, speedup: 2.01, accStart: 0.9, accAdapted: 0.9, accPruned, accFinal, accFinalVal: accFinal };
}

test('cellStatistics: paired differences per (model, seed), CIs over pairs and over models', () => {
  // (a) − (b) after finetuning: model 0 → +0.01, +0.03; model 1 → −0.01, +0.01 (pairs mean 0.01)
  const rows = [
    row('metanet', 0, 1000, 0.85, 0.5), row('prune-only', 0, 1000, 0.84, 0.3), row('sparse-train', 0, 1000, 0.86, 0.6),
    row('metanet', 0, 1001, 0.86, 0.5), row('prune-only', 0, 1001, 0.83, 0.3), row('sparse-train', 0, 1001, 0.86, 0.6),
    row('metanet', 1, 1000, 0.80, 0.4), row('prune-only', 1, 1000, 0.81, 0.2), row('sparse-train', 1, 1000, 0.80, 0.5),
    row('metanet', 1, 1001, 0.82, 0.4), row('prune-only', 1, 1001, 0.81, 0.2), row('sparse-train', 1, 1001, 0.82, 0.5),
  ];
  const [t] = cellStatistics(rows, { ...DEFAULT_STUDY_SETTINGS, bootstrap: 256 });
  assert.equal(t.target, 2);
  assert.equal(t.vsPruneOnly.n, 4);
  assert.ok(Math.abs(t.vsPruneOnly.mean - 0.01) < 1e-12);
  // 4^4 = 256 resamples enumerated. In units of 0.01 each draw is −1, 1, 3 with probabilities ¼, ½, ¼, i.e. −1 + 2B
  // with B ~ Bin(2, ½), so a resample's mean is (−4 + 2K)/4 with K ~ Bin(8, ½): P(K ≤ 1) = 9/256 ≥ 2.5 % gives
  // lo = −0.5, P(K ≤ 6) = 247/256 < 97.5 % gives hi = (−4 + 14)/4 = 2.5.
  assert.ok(Math.abs(t.vsPruneOnly.ci.lo - -0.005) < 1e-12 && Math.abs(t.vsPruneOnly.ci.hi - 0.025) < 1e-12, JSON.stringify(t.vsPruneOnly.ci));
  // over models: model means 0.02 and 0.0; resamples give 0, 0.01 (×2), 0.02
  assert.ok(Math.abs(t.vsPruneOnly.ciModels.lo) < 1e-12 && Math.abs(t.vsPruneOnly.ciModels.hi - 0.02) < 1e-12, JSON.stringify(t.vsPruneOnly.ciModels));
  assert.ok(Math.abs(t.vsPruneOnlyPruned.mean - 0.2) < 1e-12 && t.vsPruneOnlyPruned.std < 1e-12);
  assert.ok(Math.abs(t.vsSparse.mean - -0.0025) < 1e-12); // −0.01, 0, 0, 0
  assert.ok(Math.abs(t.arms.find((a) => a.arm === 'metanet')!.final.mean - 0.8325) < 1e-12);
});

const dir = mkdtempSync(join(tmpdir(), 'mp-study-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const tiny: StudyConfig = {
  ...base,
  out: dir,
  valImages: 300,
  workers: 1,
  zoo: { ...base.zoo, width: 0.5, count: 3, heldOut: 2, trainImages: 400, recipe: { ...base.zoo.recipe, epochs: 1 }, prePrune: { speedup: 1, finetuneEpochs: 0, lr: 0.01 } },
  meta: { ...base.meta, epochs: 1, milestones: [], batchesPerStep: 1, batchSize: 64, gnn: { layers: 1, hidden: 8, eps: 0.03, seed: 0 } },
  select: { ...base.select, every: 1, models: 1, adapt: { kind: 'bn', epochs: 0, lr: 0.01, images: 200 }, curve: { maxSpeedup: 2, points: [1.5, 2], iterativeSteps: 30 } },
  compare: { ...base.compare, targets: [2], adapt: { kind: 'bn', epochs: 0, lr: 0.01, images: 200 }, finetuneEpochs: 1 },
  study: { ...base.study, models: 2, seeds: 1, bootstrap: 1000, grid: { 'compare.finetuneLr': [0.02] } },
};

function mtimes(sub: string): number[] {
  return readdirSync(join(dir, sub)).sort().map((f) => statSync(join(dir, sub, f)).mtimeMs);
}

test('miniature study: two cells share one zoo and metanetwork; a second run reuses every result', async () => {
  const r = await runStudy(tiny);
  assert.deepEqual(r.cells.map((c) => c.name), ['base', 'compare.finetuneLr=0.02']);
  assert.equal(readdirSync(join(dir, 'zoo')).length, 1);
  assert.equal(readdirSync(join(dir, 'meta')).length, 1);
  assert.equal(readdirSync(join(dir, 'compare')).length, 2);
  for (const c of r.cells) {
    assert.equal(c.rows.length, 2 * 3); // 2 models × 1 seed × 3 arms × 1 target
    assert.equal(c.targets[0].vsPruneOnly.n, 2);
    for (const row of c.rows) {
      assert.ok(row.speedup >= 2 && row.accFinalVal !== undefined && (row.layers ?? []).some((l) => l.after < l.before));
    }
  }
  const before = mtimes('compare');
  const again = await runStudy(tiny);
  assert.deepEqual(mtimes('compare'), before);
  assert.deepEqual(JSON.stringify(again), JSON.stringify(r));
});

test('a study needs as many held-out models as study.models', async () => {
  await assert.rejects(runStudy({ ...tiny, study: { ...tiny.study, models: 3 } }), /study.models=3 held-out models are needed but zoo.heldOut=2/);
});
