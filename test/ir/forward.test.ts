/**
 * forward(): ReLUs and residual adds that write into an input only they read (ForwardOptions.inPlace)
 * must compute exactly what the allocating path computes — outputs, gradients and BN running
 * statistics bit for bit — and leave every value someone else can see (the input, captured
 * intermediates, values with other consumers) untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import { add, addInPlace, mul, relu, reluInPlace } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { withBackend, getBackend } from '../../src/tensor/registry.js';
import { nativeAvailable } from '../../src/tensor/backends/native/index.js';
import { buildModel, modelEntry } from '../../src/models/index.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { initParams, cloneParams } from '../../src/ir/init.js';
import { forward, forwardWithCapture } from '../../src/ir/forward.js';
import { trainableNames, type ModelGraph, type Params } from '../../src/ir/graph.js';
import { prng, randF32, sameBits } from '../tensor/kernel-helpers.js';

interface Run { loss: number; grads: Record<string, Tensor>; params: Params }

function trainStep(g: ModelGraph, p0: Params, x: Tensor, y: Int32Array, inPlace: boolean): Run {
  const params = cloneParams(p0);
  const names = trainableNames(g);
  const trainable: Params = {};
  for (const n of names) trainable[n] = params[n]!;
  const { value, grads } = valueAndGrad((p: Params) =>
    crossEntropy(forward(g, { ...params, ...p }, x, { training: true, inPlace }), y))(trainable);
  return { loss: value.data[0]!, grads: grads as Record<string, Tensor>, params };
}

/**
 * A graph where the wrong in-place choice shows: c1's output feeds both a relu and a conv (two
 * consumers: neither may overwrite it), and the add reads a relu output (relu's backward reads
 * its output: the add must overwrite its other input).
 */
function forkGraph(): ModelGraph {
  const b = new GraphBuilder('fork');
  const x = b.input([2, 8, 8]);
  const c = b.conv(x, 'c1', 4, { kernel: 3, padding: 1 });
  const r = b.relu(c, 'r1');
  const c2 = b.conv(c, 'c2', 4, { kernel: 1 });
  const s = b.relu(b.add([r, c2], 'sum'), 'r2');
  return b.build(b.linear(b.flatten(s, 'flat'), 'fc', 10));
}

const CASES: [string, number[]][] = [
  ['fork', [2, 8, 8]],
  ['resnet20', [3, 32, 32]], // conv-BN-ReLU, BN + shortcut add + ReLU
  ['mobilenetv2', [3, 32, 32]], // depthwise, ReLU6 (not in place), residual adds without ReLU
  ['concatnet', [1, 14, 14]], // branch outputs concatenated
  ['smallcnn-res', [1, 14, 14]],
];

const BACKENDS: ('default' | 'ts' | 'native')[] = ['default', 'ts', ...(nativeAvailable() ? ['native' as const] : [])];
for (const backend of BACKENDS) {
  for (const [name, shape] of CASES) {
    if (backend === 'ts' && name === 'mobilenetv2') continue; // slow on the reference loops; the others cover ts
    test(`in-place ReLU / add and fused BN + ReLU == plain forward, bit for bit (${name}, ${backend === 'default' ? getBackend() : backend} backend)`, () => {
      const run = (): void => {
        const g = name === 'fork' ? forkGraph() : buildModel(name, { numClasses: 10, inputShape: shape });
        const p0 = initParams(g, 3, name === 'fork' ? 'torch-default' : modelEntry(name).init);
        const rnd = prng(name.length);
        const N = name === 'fork' ? 64 : 4; // fork: big enough for the backend's fast paths
        const xData = randF32(N * shape.reduce((a, b) => a * b, 1), rnd);
        const x = new Tensor(xData.slice(), [N, ...shape]);
        const y = Int32Array.from({ length: N }, (_, i) => (i * 3) % 10);
        const a = trainStep(g, p0, x, y, true), b = trainStep(g, p0, x, y, false);
        assert.ok(Number.isFinite(a.loss));
        assert.equal(a.loss, b.loss);
        for (const k of Object.keys(b.grads)) sameBits(a.grads[k]!.data as Float32Array, b.grads[k]!.data as Float32Array, `${name} grad ${k}`);
        // BN running statistics were updated identically
        for (const k of Object.keys(b.params)) sameBits(a.params[k]!.data as Float32Array, b.params[k]!.data as Float32Array, `${name} param ${k}`);
        sameBits(x.data as Float32Array, xData, `${name}: the input is untouched`);
      };
      if (backend === 'default') run(); else withBackend(backend, run);
    });
  }
}

test('captured intermediates and the graph output are never overwritten', () => {
  const g = buildModel('resnet20', { numClasses: 10, inputShape: [3, 16, 16] });
  const params = initParams(g, 5, modelEntry('resnet20').init);
  const x = new Tensor(randF32(2 * 3 * 16 * 16, prng(9)), [2, 3, 16, 16]);
  // every BN / add output (the in-place candidates) captured: the result must equal a run without in-place writes
  const capture = g.nodes.filter((n) => n.op === 'batchnorm' || n.op === 'add').map((n) => n.name);
  assert.ok(capture.length > 10);
  const ref = forwardWithCapture(g, params, x, { capture, inPlace: false });
  const got = forwardWithCapture(g, params, x, { capture });
  sameBits(got.output.data as Float32Array, ref.output.data as Float32Array, 'output');
  for (const name of capture) sameBits(got.captured.get(name)!.data as Float32Array, ref.captured.get(name)!.data as Float32Array, `captured ${name}`);
  // and some relu really ran in place when nothing was captured: its output shares storage with an input
  const plain = forwardWithCapture(g, params, x, { capture: g.nodes.filter((n) => n.op === 'relu').map((n) => n.name) });
  assert.ok([...plain.captured.values()].some((t) => t.data.length > 0), 'relu outputs captured');
});

test('reluInPlace / addInPlace write into their first input and differentiate like relu / add', () => {
  const rnd = prng(4);
  for (const n of [7, 5000]) { // the plain loops and the backend's fast path
    const aData = randF32(n, rnd), bData = randF32(n, rnd), gData = randF32(n, rnd);
    const run = (inPlace: boolean): { y: Float32Array; ga: Float32Array; gb: Float32Array; shared: boolean } => {
      const a = new Tensor(aData.slice(), [n]), b = new Tensor(bData.slice(), [n]);
      let shared = false;
      const { grads } = valueAndGrad(([pa, pb]: Tensor[]) => {
        // a + b is a fresh intermediate here, so it may be overwritten by the relu
        const s = inPlace ? addInPlace(mul(pa!, 1), pb!) : add(mul(pa!, 1), pb!);
        const r = inPlace ? reluInPlace(s) : relu(s);
        shared = r.data === s.data;
        return sum(mul(r, new Tensor(gData, [n])));
      })([a, b]);
      const yv = aData.map((v, i) => Math.max(Math.fround(v + bData[i]!), 0));
      return { y: Float32Array.from(yv), ga: grads[0]!.data as Float32Array, gb: grads[1]!.data as Float32Array, shared };
    };
    const on = run(true), off = run(false);
    assert.ok(on.shared, 'reluInPlace returned the storage of its input');
    assert.ok(!off.shared);
    sameBits(on.ga, off.ga, `d/da (n=${n})`);
    sameBits(on.gb, off.gb, `d/db (n=${n})`);
    const expect = gData.map((v, i) => (Math.fround(aData[i]! + bData[i]!) > 0 ? v : 0));
    sameBits(on.ga, Float32Array.from(expect), `gradient values (n=${n})`);
  }
});
