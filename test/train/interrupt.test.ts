import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { buildModel } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { loadDataset, subset } from '../../src/data/index.js';
import { train, trainInterruptible, TrainingInterrupted, DEFAULT_TRAIN, type TrainConfig } from '../../src/train/loop.js';
import { lastCheckpointedEpoch } from '../../src/train/run.js';

const data = loadDataset();
const small = subset(data.train, 256, 3);
const test_ = subset(data.test, 200, 1);
const cfg: TrainConfig = { ...DEFAULT_TRAIN, epochs: 2, batchSize: 64, seed: 5, augment: true };
const graph = buildModel('smallcnn', { width: 0.5 });

test('a stop asked for mid-epoch saves a checkpoint; resuming it equals the uninterrupted run bit for bit', async () => {
  const a = mkdtempSync(join(tmpdir(), 'mp-int-a-'));
  const b = mkdtempSync(join(tmpdir(), 'mp-int-b-'));
  try {
    const full = train({ graph, params: initParams(graph, 11), train: small, test: test_, config: cfg, checkpointDir: a });
    let steps = 0;
    await assert.rejects(
      trainInterruptible({ graph, params: initParams(graph, 11), train: small, test: test_, config: cfg, checkpointDir: b, hooks: { onStep: () => { steps++; } } }, () => steps >= 2),
      (e: unknown) => e instanceof TrainingInterrupted && e.epoch === 0 && e.step === 2 && existsSync(join(b, 'interrupted.json')),
    );
    const params = initParams(graph, 999); // everything must come from the checkpoint
    const resumed = train({ graph, params, train: small, test: test_, config: cfg, checkpointDir: b, resume: true });
    assert.equal(resumed.epochs[0].trainLoss, full.epochs[0].trainLoss, 'the partial epoch\'s loss sums are restored');
    for (const k of Object.keys(params)) assert.deepEqual(Array.from(params[k].data), Array.from(full.params[k].data), `parameter ${k} differs after resume`);
    assert.ok(!existsSync(join(b, 'interrupted.json')), 'the mid-epoch checkpoint is removed once its epoch is complete');

    // resuming a finished run trains nothing but still reports the accuracy; the last epoch's record is kept with its checkpoint
    const again = train({ graph, params: initParams(graph, 3), train: small, test: test_, config: cfg, checkpointDir: a, resume: true });
    assert.equal(again.epochs.length, 0);
    assert.equal(again.final?.acc, full.final?.acc);
    assert.equal(lastCheckpointedEpoch(a)?.trainLoss, full.epochs[1].trainLoss);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
