// `meta-prune --quick` in miniature: a PyTorch-exported ONNX model (committed fixture) and a tiny
// image folder generated here; checks the pruned ONNX's MACs, the plan, onnxruntime and resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import '../../src/tensor/backends/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { forward } from '../../src/ir/forward.js';
import { countOps } from '../../src/ir/count.js';
import { loadOnnx } from '../../src/io/onnx/index.js';
import { loadOnnxRuntime, onnxRuntimeUnavailableReason, runOnnx } from '../../src/io/onnx/runtime.js';
import { replayHistory, type PruningHistory } from '../../src/prune/index.js';
import { packageRoot } from '../../src/data/index.js';
import { DEFAULT_META_PRUNE, layerWidths, metaPrune, type MetaPruneConfig } from '../../src/meta/meta-prune.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-metaprune-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const model = join(packageRoot(), 'test/fixtures/onnx/resnet_tiny_op17.onnx');

/** 10 classes × 8 images of 8×8: class k is a colour k plus seeded noise. */
function makeFolder(root: string): void {
  let s = 1;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let k = 0; k < 10; k++) {
    mkdirSync(join(root, `class${k}`), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const p = new PNG({ width: 8, height: 8 });
      for (let j = 0; j < 64; j++) p.data.set([(k * 25 + rnd() * 40) | 0, ((9 - k) * 25 + rnd() * 40) | 0, (k % 3) * 100, 255], 4 * j);
      writeFileSync(join(root, `class${k}`, `${i}.png`), PNG.sync.write(p));
    }
  }
}

test('meta-prune: zoo of the ONNX architecture → metanetwork → pruned ONNX meeting the MACs target; resumes', async (t) => {
  makeFolder(join(dir, 'images'));
  const d = DEFAULT_META_PRUNE;
  const cfg: MetaPruneConfig = {
    ...d, model, data: `folder:${join(dir, 'images')},resize=32,test=0.25`, out: join(dir, 'run'), speedup: 2, workers: 1,
    zoo: { ...d.zoo, count: 3, heldOut: 1, recipe: { ...d.zoo.recipe, epochs: 1, batchSize: 32 }, prePrune: { speedup: 1.2, finetuneEpochs: 0, lr: 0.01 } },
    meta: { ...d.meta, epochs: 2, milestones: [1], batchesPerStep: 1, batchSize: 32, gnn: { layers: 1, hidden: 8, eps: 0.03, seed: 0 } },
    select: { ...d.select, every: 1, models: 1, adapt: { kind: 'bn', epochs: 0, lr: 0.01, images: 0 }, curve: { maxSpeedup: 2, points: [1.5, 2], iterativeSteps: 50 } },
    final: { ...d.final, finetuneEpochs: 1 },
  };
  const stages: string[] = [];
  const r = await metaPrune(cfg, { stage: (s) => stages.push(s) });
  assert.deepEqual(stages, ['zoo', 'meta-train', 'select', 'prune']);
  const user = loadOnnx(model);
  const pruned = loadOnnx(r.output);
  const before = countOps(user.graph).macs;
  const after = countOps(pruned.graph).macs;
  assert.equal(r.macs.before, before);
  assert.equal(r.macs.after, after);
  assert.ok(before / after >= 2, `speed-up ${before / after}`);
  assert.deepEqual(layerWidths(pruned.graph), r.widths.after);
  assert.ok(Object.entries(r.widths.after).some(([k, w]) => w < r.widths.before[k]!), 'some layer got narrower');
  for (const a of Object.values(r.acc)) assert.ok(a >= 0 && a <= 1);
  // The plan replayed on the user's original model gives the pruned architecture.
  const plan = JSON.parse(readFileSync(r.plan, 'utf8')) as PruningHistory;
  assert.deepEqual(layerWidths(replayHistory(user.graph, user.params, plan).graph), r.widths.after);
  // Resume: the finished run is reused as is.
  const again: string[] = [];
  assert.deepEqual(await metaPrune(cfg, { stage: (s) => again.push(s) }), r);
  assert.ok(!again.includes('prune'));
  // onnxruntime runs the pruned model and agrees with the engine.
  const ort = await loadOnnxRuntime();
  if (ort === null) return t.skip(onnxRuntimeUnavailableReason() ?? 'onnxruntime-node is not available');
  const x = new Tensor(Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i)), [2, 3, 32, 32]);
  const y = await runOnnx(ort, readFileSync(r.output), x);
  const ours = forward(pruned.graph, pruned.params, x);
  for (let i = 0; i < ours.size; i++) assert.ok(Math.abs(y.data[i]! - ours.data[i]!) < 1e-3, `logit ${i}: ${y.data[i]} vs ${ours.data[i]}`);
});
