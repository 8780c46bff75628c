// Gradients of the deployed-CNN activations and of ceil-mode pooling vs finite differences; values
// vs closed forms (PyTorch semantics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { gradCheck, randomTensor } from '../../src/tensor/gradcheck.js';
import { hardSigmoid, hardSwish, prelu, channelMul } from '../../src/tensor/ops/activation.js';
import { sigmoid, silu, leakyRelu } from '../../src/tensor/ops/elementwise.js';
import { maxPool2d, avgPool2d, poolOutSize } from '../../src/tensor/ops/pool.js';
import '../../src/tensor/backends/index.js';

const rng = new Rng(7);

function check(name: string, f: (inputs: Tensor[]) => Tensor, shapes: number[][], lo = -4, hi = 4): void {
  test(`gradcheck ${name}`, () => {
    const r = gradCheck(f, shapes.map((s) => randomTensor(s, rng, lo, hi)));
    assert.ok(r.maxError < 1e-6, `${name}: max error ${r.maxError} at ${JSON.stringify(r.worst)}`);
    assert.ok(r.checked > 0);
  });
}

check('hardSigmoid (ONNX default alpha 0.2)', ([a]) => hardSigmoid(a), [[3, 20]]);
check('hardSigmoid (PyTorch alpha 1/6)', ([a]) => hardSigmoid(a, 1 / 6, 0.5), [[3, 20]]);
check('hardSwish', ([a]) => hardSwish(a), [[3, 20]]);
check('sigmoid', ([a]) => sigmoid(a), [[2, 7]]);
check('silu', ([a]) => silu(a), [[2, 7]]);
check('leakyRelu', ([a]) => leakyRelu(a, 0.1), [[2, 7]]);
check('prelu (input and per-channel slope)', ([a, w]) => prelu(a, w), [[2, 3, 4, 4], [3]]);
check('channelMul by per-channel scale (SE)', ([a, s]) => channelMul(a, s), [[2, 3, 4, 5], [2, 3]]);
check('channelMul same shape', ([a, s]) => channelMul(a, s), [[2, 3, 2, 2], [2, 3, 2, 2]]);
check('maxPool2d ceil_mode', ([a]) => maxPool2d(a, { kernel: [3, 3], stride: [2, 2], ceil: true }), [[1, 2, 8, 8]]);
check('avgPool2d ceil_mode with padding', ([a]) => avgPool2d(a, { kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceil: true }), [[1, 2, 8, 8]]);

test('hard sigmoid/swish and PReLU values follow their closed forms', () => {
  const x = new Tensor(Float64Array.from([-5, -3, -1.5, 0, 1, 3, 4]), [7]);
  assert.deepEqual([...hardSwish(x).data], [-5, -3, -1.5, 0, 1, 3, 4].map((v) => v * Math.min(6, Math.max(0, v + 3)) / 6 + 0));
  assert.deepEqual([...hardSigmoid(x, 1 / 6, 0.5).data], [-5, -3, -1.5, 0, 1, 3, 4].map((v) => Math.min(1, Math.max(0, v / 6 + 0.5))));
  const y = prelu(new Tensor(Float64Array.from([-1, 2, -3, 4]), [1, 2, 2]), new Tensor(Float64Array.from([0.5, 0.25]), [2]));
  assert.deepEqual([...y.data], [-0.5, 2, -0.75, 4]);
});

test('ceil-mode pooling sizes and values match PyTorch (clipped last windows)', () => {
  // torch.nn.MaxPool2d(3, 2, ceil_mode=True) on 7×7 → 3×3 (floor gives 3 too); on 8×8 → 4×4 (floor 3)
  assert.equal(poolOutSize(8, 3, 2, 0, true), 4);
  assert.equal(poolOutSize(8, 3, 2, 0, false), 3);
  // the last window must start inside the input or left padding: 5 + 2·1 − 2 = 5, stride 2 → 3 + 1, dropped back to 3
  assert.equal(poolOutSize(5, 2, 2, 1, true), 3);
  assert.equal(poolOutSize(56, 3, 2, 0, true), 28); // GoogLeNet's maxpool1
  const v = Float32Array.from({ length: 16 }, (_, i) => i);
  for (const dtype of ['float32', 'float64'] as const) {
    const x = new Tensor(dtype === 'float32' ? v : Float64Array.from(v), [1, 1, 4, 4]);
    const m = maxPool2d(x, { kernel: [3, 3], stride: [2, 2], ceil: true });
    assert.deepEqual(m.shape, [1, 1, 2, 2]);
    assert.deepEqual([...m.data], [10, 11, 14, 15]);
    const a = avgPool2d(x, { kernel: [3, 3], stride: [2, 2], ceil: true });
    // windows rows/cols {0,1,2} and {2,3} (clipped): PyTorch divides by the clipped size
    assert.deepEqual([...a.data], [5, (2 + 3 + 6 + 7 + 10 + 11) / 6, (8 + 9 + 10 + 12 + 13 + 14) / 6, (10 + 11 + 14 + 15) / 4]);
  }
});
