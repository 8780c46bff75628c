// Ctrl-C in the pipeline: stop requests are honoured between zoo models and after a meta-train
// step, keeping what is finished; re-running continues from there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { runPipeline, DEFAULT_PIPELINE, type PipelineConfig } from '../../src/meta/pipeline.js';
import { Interrupted } from '../../src/train/interrupt.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-pipe-int-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const cfg: PipelineConfig = {
  ...DEFAULT_PIPELINE,
  out: dir,
  valImages: 200,
  workers: 1,
  zoo: { ...DEFAULT_PIPELINE.zoo, width: 0.25, count: 2, heldOut: 1, trainImages: 300, recipe: { ...DEFAULT_PIPELINE.zoo.recipe, epochs: 1 }, prePrune: { speedup: 1.2, finetuneEpochs: 0, lr: 0.01 } },
  meta: { ...DEFAULT_PIPELINE.meta, epochs: 2, milestones: [1], batchesPerStep: 1, batchSize: 32, gnn: { layers: 1, hidden: 4, eps: 0.03, seed: 0 } },
};

test('a stop request ends the zoo after the current model and meta-training after its epoch checkpoint', async () => {
  let models = 0;
  await assert.rejects(
    runPipeline(cfg, { zooModel: () => { models++; }, stop: () => models >= 1 }, 'meta-train'),
    (e: unknown) => e instanceof Interrupted && /zoo-model: stopped after 1 of 2 jobs; re-run the same command to continue/.test(e.message),
  );
  assert.equal(JSON.parse(readFileSync(join(dir, 'zoo', 'zoo.json'), 'utf8')).entries.length, 1, 'the finished model is kept');

  let steps = 0;
  await assert.rejects(
    runPipeline(cfg, { metaStep: () => { steps++; }, stop: () => steps >= 1 }, 'meta-train'),
    (e: unknown) => e instanceof Interrupted && /meta-train stopped after epoch 1; saved .*metanet_epoch_0/.test(e.message),
  );
  assert.ok(existsSync(join(dir, 'meta', 'metanet_epoch_0.json')) && !existsSync(join(dir, 'meta', 'metanet_epoch_1.json')));

  const r = await runPipeline(cfg, { metaStep: () => { steps++; } }, 'meta-train');
  assert.equal(r.zoo.entries.length, 2);
  assert.equal(steps, 2, 'meta-training continued with its second epoch only');
  assert.ok(existsSync(join(dir, 'meta', 'metanet_epoch_1.json')));
});
