// A miniature Meta Pruning pipeline end to end (tiny data, 3 data models, 2 meta-epochs): checks
// structure and invariants, and that a killed run resumes from what it has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { assertPipelineResumable, runPipeline, DEFAULT_PIPELINE, type PipelineConfig } from '../../src/meta/pipeline.js';
import { diffKeys } from '../../src/meta/resume-check.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-pipeline-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const cfg: PipelineConfig = {
  ...DEFAULT_PIPELINE,
  out: dir,
  valImages: 300,
  workers: 2,
  zoo: { ...DEFAULT_PIPELINE.zoo, width: 0.5, count: 3, heldOut: 1, trainImages: 600, recipe: { ...DEFAULT_PIPELINE.zoo.recipe, epochs: 1 }, prePrune: { speedup: 1.2, finetuneEpochs: 1, lr: 0.01 } },
  meta: { ...DEFAULT_PIPELINE.meta, epochs: 2, milestones: [1], batchesPerStep: 1, batchSize: 64, gnn: { layers: 1, hidden: 8, eps: 0.03, seed: 0 } },
  select: { ...DEFAULT_PIPELINE.select, every: 1, models: 1, adapt: { kind: 'bn', epochs: 0, lr: 0.01, images: 300 }, curve: { maxSpeedup: 2.5, points: [1.5, 2, 2.5], iterativeSteps: 50 } },
  compare: { ...DEFAULT_PIPELINE.compare, targets: [2], seeds: 2, adapt: { kind: 'finetune', epochs: 1, lr: 0.01, images: 300 }, finetuneEpochs: 1 },
};

test('miniature pipeline: zoo → meta-train → select → compare', async () => {
  const r = await runPipeline(cfg);
  assert.equal(r.stage, 'compare');
  const selection = r.selection!, rows = r.rows!, summary = r.summary!, table = r.table!;
  // zoo: 3 checkpoints, pre-pruned to ≥ 1.2×
  assert.equal(r.zoo.entries.length, 3);
  for (const e of r.zoo.entries) {
    assert.ok(existsSync(join(dir, 'zoo', `${e.path}.json`)) && existsSync(join(dir, 'zoo', `${e.path}.bin`)));
    assert.ok(e.speedup >= 1.2, `pre-prune speed-up ${e.speedup}`);
  }
  // meta-train: a checkpoint per epoch plus the untrained one
  for (const e of [-1, 0, 1]) assert.ok(existsSync(join(dir, 'meta', `metanet_epoch_${e}.json`)), `metanet epoch ${e}`);
  assert.ok(r.reg! > 0 && Number.isFinite(r.reg));
  // curves: speed-up increases along every curve and starts at 1
  for (const m of [selection.original, ...selection.family]) {
    for (const { curve } of m.curves) {
      assert.equal(curve[0].speedup, 1);
      for (let i = 1; i < curve.length; i++) assert.ok(curve[i].speedup > curve[i - 1].speedup, 'curve not monotone in speed-up');
    }
  }
  assert.ok([0, 1].includes(selection.chosen));
  // compare: 3 arms × 2 seeds × 1 target, each pruned model meets the target
  assert.equal(rows.length, 6);
  for (const row of rows) assert.ok(row.speedup >= 2, `${row.arm} reached ${row.speedup}× < 2×`);
  assert.deepEqual(new Set(summary.map((s) => s.arm)), new Set(['metanet', 'prune-only', 'sparse-train']));
  assert.ok(table.includes('metanet') && table.includes('±'));
});

test('resume after a kill: a deleted later stage is recomputed, finished stages are reused', async () => {
  const zooIndex = readFileSync(join(dir, 'zoo', 'zoo.json'), 'utf8');
  // "kill" during meta-training: the last epoch checkpoint and everything after it never happened
  unlinkSync(join(dir, 'meta', 'metanet_epoch_1.json'));
  unlinkSync(join(dir, 'compare.json'));
  unlinkSync(join(dir, 'selection.json'));
  const r = await runPipeline(cfg);
  assert.equal(readFileSync(join(dir, 'zoo', 'zoo.json'), 'utf8'), zooIndex, 'zoo was retrained instead of reused');
  assert.ok(existsSync(join(dir, 'meta', 'metanet_epoch_1.json')));
  assert.equal(r.rows!.length, 6);
});

test('a run directory refuses settings that would mix two runs, before writing anything', async () => {
  const zooIndex = readFileSync(join(dir, 'zoo', 'zoo.json'), 'utf8');
  const other = { ...cfg, zoo: { ...cfg.zoo, recipe: { ...cfg.zoo.recipe, epochs: 2 } } };
  assert.throws(() => assertPipelineResumable(other), /zoo: holds data models made with other settings \(recipe\.epochs 1 → 2\); use another run directory/);
  await assert.rejects(runPipeline(other), /recipe\.epochs 1 → 2/);
  await assert.rejects(runPipeline({ ...cfg, data: 'fashion-mnist-14:half' }), /data\.spec/);
  const gnn = { ...cfg, meta: { ...cfg.meta, gnn: { ...cfg.meta.gnn, hidden: 16 } } };
  assert.throws(() => assertPipelineResumable(gnn), /meta: holds metanetwork checkpoints made with other settings \(gnn\.hidden 8 → 16\)/);
  assert.equal(readFileSync(join(dir, 'zoo', 'zoo.json'), 'utf8'), zooIndex);
  // what does not change saved results is accepted: more meta epochs, another held-out split
  assertPipelineResumable({ ...cfg, meta: { ...cfg.meta, epochs: 3 }, zoo: { ...cfg.zoo, count: 4, heldOut: 2 } });
});

test('diffKeys names every differing leaf', () => {
  assert.deepEqual(diffKeys({ a: 1, b: { c: [1, 2], d: 'x' } }, { a: 1, b: { c: [1, 3], e: 0 } }), ['b.c', 'b.d', 'b.e']);
  assert.deepEqual(diffKeys({ a: { b: 1 } }, { a: { b: 1 } }), []);
});
