// Models exported by PyTorch 1.13's ONNX exporter (test/fixtures/onnx, written by
// tools/make-onnx-fixtures.py; no Python needed here): imported outputs match PyTorch's, and a 2×
// pruned model exports to a file onnxruntime runs, with the MACs at least halved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/tensor/backends/index.js';
import { forward } from '../../src/ir/forward.js';
import { countOps } from '../../src/ir/count.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { pruneToSpeedup } from '../../src/prune/index.js';
import { loadOnnx, exportOnnx, importOnnx, loadOnnxRuntime, onnxRuntimeUnavailableReason, runOnnx } from '../../src/io/onnx/index.js';

interface Encoded { shape: number[]; data: number[] }
interface FixtureEntry { name: string; file: string; opset: number; batchNorm: 'kept' | 'folded'; batch: 'N' | number; ops: string[]; output: Encoded }
interface Reference { generator: string; torch: string; onnx: string; input: Encoded; fixtures: FixtureEntry[] }

/** The repository root (works from test/ under tsx and from dist/test/ when compiled). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('onnx-fixtures: package.json not found above the test file');
    dir = up;
  }
  return dir;
}

const DIR = join(repoRoot(), 'test', 'fixtures', 'onnx');
const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as Reference;
const x = new Tensor(Float32Array.from(ref.input.data), ref.input.shape);
const ort = await loadOnnxRuntime();

function maxAbsDiff(a: Tensor, b: { shape: readonly number[]; data: ArrayLike<number> }): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  let d = 0;
  for (let i = 0; i < a.size; i++) d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
  return d;
}

test('the fixture set covers both opsets, BN kept and folded, and the ops the importer maps', () => {
  assert.match(ref.torch, /^1\.13/);
  const files = ref.fixtures.map((f) => f.file);
  assert.equal(files.length, 6);
  assert.deepEqual([...new Set(ref.fixtures.map((f) => f.opset))].sort(), [13, 17]);
  const ops = new Set(ref.fixtures.flatMap((f) => f.ops));
  for (const op of ['Conv', 'BatchNormalization', 'Relu', 'Clip', 'Add', 'Mul', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Flatten', 'Reshape', 'Gemm', 'MatMul', 'Pad', 'Constant']) {
    assert.ok(ops.has(op), `no fixture has ${op}`);
  }
});

for (const f of ref.fixtures) {
  test(`${f.file}: imported model matches PyTorch's outputs within 1e-4`, () => {
    const m = loadOnnx(join(DIR, f.file));
    assert.equal(m.info.opset, f.opset);
    assert.match(m.info.producer, /^pytorch 1\.13/);
    assert.equal(m.info.inputShape[0], f.batch);
    const bn = m.graph.nodes.filter((n) => n.op === 'batchnorm').length;
    if (f.batchNorm === 'kept') assert.ok(bn > 0, 'BN nodes expected');
    else assert.equal(bn, 0);
    const y = forward(m.graph, m.params, x);
    const d = maxAbsDiff(y, f.output);
    assert.ok(d <= 1e-4, `max |Δ| vs PyTorch = ${d}`);
  });

  test(`${f.file}: pruned 2× → exported → onnxruntime runs it with the engine's outputs; MACs drop ≥ 2×`, async (t) => {
    const m = loadOnnx(join(DIR, f.file));
    const r = pruneToSpeedup(m.graph, m.params, { speedup: 2, iterativeSteps: 100 });
    const macs0 = countOps(m.graph).macs, macs1 = countOps(r.graph).macs;
    assert.ok(macs0 / macs1 >= 2, `MACs ${macs0} → ${macs1}`);
    const bytes = exportOnnx(r.graph, r.params, { opset: f.opset });
    const back = importOnnx(bytes);
    assert.deepEqual(back.graph, r.graph);
    const ours = forward(r.graph, r.params, x);
    assert.equal(maxAbsDiff(forward(back.graph, back.params, x), ours), 0);
    if (ort === null) return t.skip(onnxRuntimeUnavailableReason() ?? 'onnxruntime-node is not available');
    const theirs = await runOnnx(ort, bytes, x);
    assert.ok(maxAbsDiff(ours, theirs) <= 1e-4, `max |Δ| vs onnxruntime = ${maxAbsDiff(ours, theirs)}`);
  });
}

test('PyTorch module names become IR node names (weights named <module>.weight, scoped node names)', () => {
  const kept = loadOnnx(join(DIR, 'resnet_tiny_op17.onnx')).graph.nodes.map((n) => n.name);
  for (const n of ['conv1', 'bn1', 'layer1.conv1', 'layer2.downsample.0', 'layer2.downsample.1', 'layer3.conv3', 'fc']) assert.ok(kept.includes(n), n);
  const folded = loadOnnx(join(DIR, 'mobilenetv2_tiny_op13.onnx')).graph.nodes.map((n) => n.name);
  for (const n of ['features.0.0', 'features.1.conv.0.0', 'features.2.conv.1.0', 'classifier.1']) assert.ok(folded.includes(n), n);
});

test('mixnet: x * gamma + beta folds into the BN (or the folded conv), the zero Pad before AveragePool is dropped, MatMul and Reshape map to linear/flatten', () => {
  for (const file of ['mixnet_op13.onnx', 'mixnet_op17.onnx']) {
    const m = loadOnnx(join(DIR, file));
    assert.deepEqual(m.info.folded, ['/Mul', '/Add'], file);
    assert.ok(m.info.dropped.includes('/pool/Pad'), file);
    const ops = m.graph.nodes.map((n) => n.op);
    assert.ok(ops.includes('flatten') && ops.filter((o) => o === 'linear').length === 2, file);
    const mix = m.graph.nodes.find((n) => n.name === 'mix');
    assert.ok(mix !== undefined && mix.op === 'conv2d' && mix.groups === 4 && mix.stride[0] === 2);
    const b2 = m.graph.nodes.find((n) => n.name === 'b2');
    assert.ok(b2 !== undefined && b2.op === 'conv2d' && b2.dilation[0] === 2 && b2.padding[0] === 2);
  }
});
