// torchvision CNNs exported by PyTorch 1.13 (tools/export-torchvision-onnx.py, width-reduced so they
// can be committed): each imports equal to PyTorch's output, prunes to 1.5× and 2× with round-to 8,
// and the export keeps names and batch axis and runs in onnxruntime equal to our engine's forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { forward } from '../../src/ir/forward.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadOnnx, exportOnnx, exportOptionsFrom, importOnnx, loadOnnxRuntime, runOnnx } from '../../src/io/onnx/index.js';
import { pruneToSpeedup } from '../../src/prune/index.js';

const DIR = join(process.cwd(), 'test', 'fixtures', 'onnx-torchvision');
const ort = await loadOnnxRuntime();
interface Ref { input: { shape: number[]; data: number[] }; output: { shape: number[]; data: number[] } }

function maxDiff(a: Tensor, b: { shape: readonly number[]; data: ArrayLike<number> }): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

// [file, reference, dynamic batch]
const FIXTURES: [string, string, boolean][] = [
  ['mobilenet_v3_small_w050.onnx', 'mobilenet_v3_small_w050.json', false],
  ['efficientnet_b0_w025-dyn.onnx', 'efficientnet_b0_w025.json', true],
  ['regnet_y_tiny-dyn.onnx', 'regnet_y_tiny.json', true],
  ['regnet_x_tiny.onnx', 'regnet_x_tiny.json', false],
];

for (const [file, refFile, dyn] of FIXTURES) {
  test(`${file}: imports equal to PyTorch, prunes to 1.5× and 2× (round-to 8), runs in onnxruntime`, { skip: !existsSync(join(DIR, file)) && 'fixture missing' }, async (t) => {
    const m = loadOnnx(join(DIR, file));
    const ref = JSON.parse(readFileSync(join(DIR, refFile), 'utf8')) as Ref;
    const x = new Tensor(Float32Array.from(ref.input.data), ref.input.shape);
    const d = maxDiff(forward(m.graph, m.params, x), ref.output);
    assert.ok(d <= 1e-4, `vs PyTorch: ${d}`);
    assert.equal(m.info.inputShape[0], dyn ? 'N' : 2);
    for (const speedup of [1.5, 2]) {
      const r = pruneToSpeedup(m.graph, m.params, { speedup, roundTo: 8, iterativeSteps: 50 });
      assert.ok(r.speedup >= speedup);
      const bytes = exportOnnx(r.graph, r.params, exportOptionsFrom(m.info));
      const back = importOnnx(bytes);
      assert.equal(back.info.inputName, 'input');
      assert.equal(back.info.outputName, 'logits');
      assert.equal(back.info.inputShape[0], m.info.inputShape[0]);
      assert.equal(back.info.producer, m.info.producer);
      const y = forward(r.graph, r.params, x);
      if (ort === null) {
        t.skip('onnxruntime-node is not installed');
        continue;
      }
      const o = await runOnnx(ort, bytes, x);
      assert.ok(maxDiff(y, o) <= 1e-4, `${speedup}×: onnxruntime vs engine ${maxDiff(y, o)}`);
    }
  });
}
