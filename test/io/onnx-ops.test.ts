// The activations, squeeze-and-excitation and ceil-mode pooling of deployed CNNs, imported from a
// hand-built PyTorch-style export: the right IR ops, equal to onnxruntime on the original file, and
// an export that imports back to the same graph and runs in onnxruntime with the same outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { forward } from '../../src/ir/forward.js';
import { randn, type Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { importOnnx, exportOnnx, loadOnnxRuntime, runOnnx } from '../../src/io/onnx/index.js';
import { seNetOnnx } from './onnx-build.js';

const ort = await loadOnnxRuntime();
const x = randn([3, 4, 8, 8], new Rng(9));

function maxDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

test('SE block, hard swish, SiLU, PRelu, LeakyRelu, ceil-mode pools and Softmax import as IR ops', async () => {
  const bytes = seNetOnnx();
  const m = importOnnx(bytes);
  assert.deepEqual(m.graph.nodes.map((n) => `${n.name}:${n.op}`), [
    'x:input', 'stem:conv2d', 'act1:hardswish', 'pool:maxpool', 'se.avgpool:gap', 'se.fc1:linear', 'se.activation:relu', 'se.fc2:linear',
    'se.scale_activation:hardsigmoid', 'se:mul', 'proj:conv2d', 'act2:silu', 'prelu:prelu', 'leaky:leakyrelu', 'pool2:avgpool', 'gap:gap', 'fc:linear', '/Softmax:softmax',
  ]);
  const pool = m.graph.nodes.find((n) => n.name === 'pool')!;
  assert.ok(pool.op === 'maxpool' && pool.ceil === true);
  assert.deepEqual([...m.params['se.fc1.weight'].shape], [4, 8]);
  assert.deepEqual([...m.params['prelu.weight'].shape], [6]);
  const y = forward(m.graph, m.params, x);
  assert.deepEqual([...y.shape], [3, 5]);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs([0, 1, 2, 3, 4].reduce((s, j) => s + y.data[i * 5 + j], 0) - 1) < 1e-6);
  if (ort === null) return test.skip('onnxruntime-node is not installed');
  const ref = await runOnnx(ort, bytes, x);
  assert.ok(maxDiff(y, ref) <= 1e-5, `vs onnxruntime: ${maxDiff(y, ref)}`);
});

for (const opset of [13, 14]) {
  test(`opset ${opset}: the exported graph imports back to the same IR and runs in onnxruntime`, async () => {
    const m = importOnnx(seNetOnnx());
    const out = exportOnnx(m.graph, m.params, { opset });
    const back = importOnnx(out);
    assert.deepEqual(back.graph.nodes.map((n) => n.op), m.graph.nodes.map((n) => n.op));
    const y = forward(m.graph, m.params, x);
    assert.deepEqual([...forward(back.graph, back.params, x).data], [...y.data]);
    if (ort === null) return test.skip('onnxruntime-node is not installed');
    const ref = await runOnnx(ort, out, x);
    assert.ok(maxDiff(y, ref) <= 1e-5, `vs onnxruntime: ${maxDiff(y, ref)}`);
  });
}
