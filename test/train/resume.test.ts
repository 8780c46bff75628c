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
import type { Params } from '../../src/ir/graph.js';

const data = loadDataset();
const small = subset(data.train, 600, 3);
const cfg: TrainConfig = { ...DEFAULT_TRAIN, epochs: 3, batchSize: 64, seed: 5 };
const graph = buildModel('smallcnn', { width: 0.5 });

function run(dir: string, opts: { stopAfter?: number; resume?: boolean }, params: Params) {
  return train({ graph, params, train: small, config: cfg, checkpointDir: dir, ...opts });
}

test('resume after a kill equals the uninterrupted run, bit for bit', () => {
  const a = mkdtempSync(join(tmpdir(), 'mp-resume-a-'));
  const b = mkdtempSync(join(tmpdir(), 'mp-resume-b-'));
  try {
    const full = run(a, {}, initParams(graph, 11));
    // "killed" after one epoch: a fresh process would start from new params and resume
    run(b, { stopAfter: 1 }, initParams(graph, 11));
    const resumedParams = initParams(graph, 999); // deliberately different: everything must come from the checkpoint
    const resumed = run(b, { resume: true }, resumedParams);
    assert.equal(resumed.resumedFrom, 1);
    for (const k of Object.keys(full.params)) {
      assert.deepEqual(Array.from(resumedParams[k].data), Array.from(full.params[k].data), `parameter ${k} differs after resume`);
    }
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('smallcnn learns on the embedded data (2 epochs on 3k images > 70% test accuracy)', () => {
  const params = initParams(buildModel('smallcnn'), 1);
  const r = train({ graph: buildModel('smallcnn'), params, train: subset(data.train, 3000, 1), test: data.test, config: { ...DEFAULT_TRAIN, epochs: 2 } });
  assert.ok(r.final!.acc > 0.7, `test accuracy ${r.final!.acc}`);
  assert.ok(r.epochs[1].trainLoss < r.epochs[0].trainLoss);
});

test('a NaN loss stops training with the epoch and step where it appeared', () => {
  const params = initParams(graph, 2);
  assert.throws(
    () => train({ graph, params, train: small, config: { ...cfg, lr: 1e30, epochs: 1 } }),
    /(loss|the value of '[^']+') became (NaN|-?Infinity).* at epoch 1, step \d+/,
  );
});
