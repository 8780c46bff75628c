import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { buildModel } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { loadDataset, subset } from '../../src/data/index.js';
import { train, DEFAULT_TRAIN, type TrainConfig } from '../../src/train/loop.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';

const small = subset(loadDataset().train, 128, 3);
const cfg: TrainConfig = { ...DEFAULT_TRAIN, epochs: 1, batchSize: 64, seed: 5 };
const graph = buildModel('smallcnn', { width: 0.5 });

test('a non-finite gradient stops training at its step, naming the parameter (the loss is still finite)', () => {
  const params = initParams(graph, 2);
  let step = 0;
  assert.throws(
    () => train({ graph, params, train: small, config: cfg, hooks: { extraGrad: (_p, grads) => { if (++step === 2) (grads['conv1.weight'].data as Float32Array)[0] = Number.NaN; } } }),
    /the gradient of 'conv1\.weight' became NaN \(element 0\) at epoch 1, step 2/,
  );
  assert.ok(Object.values(params).every((t) => t.data.every(Number.isFinite)), 'the NaN must not reach the parameters');
});

test('resuming refuses an optimizer buffer of the wrong size and optimizer state of another kind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-nonfinite-'));
  try {
    train({ graph, params: initParams(graph, 2), train: small, config: { ...cfg, epochs: 2 }, checkpointDir: dir, stopAfter: 1 });
    const path = join(dir, 'epoch_0');
    const ck = loadCheckpoint(path);
    const bufs = { ...ck.optimizerBuffers!, 'conv1.weight': new Float32Array(7) };
    saveCheckpoint(path, { ...ck, optimizerBuffers: bufs });
    assert.throws(
      () => train({ graph, params: initParams(graph, 2), train: small, config: { ...cfg, epochs: 2 }, checkpointDir: dir, resume: true }),
      (e: Error) => e.message.includes(`${path}.bin`) && /optimizer buffer 'conv1\.weight' has 7 values, parameter needs \d+/.test(e.message),
    );
    saveCheckpoint(path, ck);
    assert.throws(
      () => train({ graph, params: initParams(graph, 2), train: small, config: { ...cfg, epochs: 2, optimizer: { kind: 'adamw' } }, checkpointDir: dir, resume: true }),
      /holds sgd optimizer state, this run uses adamw/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
