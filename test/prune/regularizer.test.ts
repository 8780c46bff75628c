import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeModel } from './helpers.js';
import { tinyModel } from './tiny.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/tensor/random.js';
import { trainableNames, type Params } from '../../src/ir/graph.js';
import {
  addRegularizerGrad, getGroups, regularizerGammas, regularizerGrad, regularizerLoss,
} from '../../src/prune/index.js';

test('γ: hand-computed example (α = 16) and the all-equal / NaN cases', () => {
  const { graph, params } = tinyModel();
  const groups = getGroups(graph);
  // conv1 group importance [0.25, 0.5, 1] → u = sqrt = [0.5, √½, 1]; γ = 16^((1 − u)/(1 − 0.5)).
  const [g1, g2] = regularizerGammas(groups, params, { alpha: 16 });
  const expected = [16, Math.pow(16, 2 - Math.SQRT2), 1]; // [16, 5.07408…, 1]
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(g1![c] - expected[c]) < 1e-12, `γ[${c}] = ${g1![c]} vs ${expected[c]}`);
  assert.ok(Math.abs(g1![1] - 5.074078) < 1e-6);
  assert.deepEqual([...g2!], [1], 'one channel: max = min → γ = 1');
  const nanParams: Params = { ...params, 'conv1.weight': new Tensor(new Float32Array([NaN, 1, 2]), [3, 1, 1, 1]) };
  assert.deepEqual([...regularizerGammas(groups, nanParams)[0]!], [1, 1, 1], 'NaN importance → γ = 1');
});

test('regularizer gradient: hand-computed example (out-slices, BN γ, in-slices, overlapping groups)', () => {
  const { graph, params } = tinyModel();
  const reg = 0.1;
  const g = regularizerGrad(graph, params, undefined, { reg, alpha: 16 });
  const gm = Math.pow(16, 2 - Math.SQRT2);
  const near = (name: string, expected: number[]) => {
    const a = g[name];
    assert.ok(a !== undefined, name);
    expected.forEach((e, i) => assert.ok(Math.abs(a.data[i] - e) < 1e-6 * Math.max(1, Math.abs(e)), `${name}[${i}]: ${a.data[i]} vs ${e}`));
  };
  near('conv1.weight', [reg * 16 * 1, reg * gm * 2, reg * 1 * 4]);
  near('bn1.weight', [reg * 16 * 1, reg * gm * 2, reg * 1 * 2]);
  // conv2.weight is an in-slice of the conv1 group (γ_c) and the out-slice of the conv2 group (γ = 1).
  near('conv2.weight', [reg * (16 + 1) * 2, reg * (gm + 1) * 2, reg * (1 + 1) * 2]);
  near('bn2.weight', [reg * 0.5]);
  near('fc.weight', [reg * 3, reg * -1]); // in-slice of the conv2 group; fc rows are ignored
  assert.equal(g['bn1.bias'], undefined, 'BN bias is not regularized (bias = false)');
  assert.equal(g['fc.bias'], undefined);
  assert.ok(regularizerGrad(graph, params, undefined, { reg, bias: true })['bn1.bias'] !== undefined);
});

test('regularizer gradient (a) == autograd gradient of the loss form (b), ResNet-20 float32', () => {
  const { graph, params } = makeModel('resnet20', { inputShape: [3, 8, 8] });
  const groups = getGroups(graph);
  const opts = { reg: 0.5, alpha: 16 };
  const a = regularizerGrad(graph, params, groups, opts);
  const trainable: Record<string, Tensor> = {};
  for (const n of trainableNames(graph)) trainable[n] = params[n];
  const { value, grads } = valueAndGrad((p: Record<string, Tensor>) => regularizerLoss(graph, { ...params, ...p }, groups, opts))(trainable);
  assert.ok(value.item() > 0);
  let checked = 0;
  for (const n of Object.keys(trainable)) {
    const ga = a[n];
    const gb = grads[n];
    if (ga === undefined) {
      assert.ok(gb.data.every((v) => v === 0), `${n}: autograd gradient where the regularizer has none`);
      continue;
    }
    let scale = 0;
    for (const v of ga.data) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < ga.size; i++) assert.ok(Math.abs(ga.data[i] - gb.data[i]) <= 1e-5 * scale, `${n}[${i}]: ${ga.data[i]} vs ${gb.data[i]}`);
    checked++;
  }
  assert.ok(checked >= 40, `checked ${checked} parameters`);
  // In-place form used as hooks.extraGrad.
  const base: Record<string, Tensor> = {};
  for (const n of Object.keys(trainable)) base[n] = new Tensor(new Float32Array(trainable[n].size).fill(1), trainable[n].shape);
  addRegularizerGrad(base, graph, params, groups, opts);
  const n0 = 'layer2.0.conv1.weight';
  for (let i = 0; i < 10; i++) assert.ok(Math.abs(base[n0].data[i] - (1 + a[n0].data[i])) < 1e-6);
});

test('regularizer gradient == central finite differences of the loss form in float64 (γ frozen)', () => {
  const { graph, params: p32 } = makeModel('smallcnn-res');
  const params: Params = {};
  for (const [k, t] of Object.entries(p32)) params[k] = t.to('float64');
  const groups = getGroups(graph);
  const gammas = regularizerGammas(groups, params, { alpha: 16 });
  const opts = { reg: 0.3, alpha: 16, gammas };
  const a = regularizerGrad(graph, params, groups, opts);
  const loss = () => regularizerLoss(graph, params, groups, opts).item();
  const rng = new Rng(5);
  const names = Object.keys(a);
  const h = 1e-4;
  for (let trial = 0; trial < 40; trial++) {
    const n = names[rng.int(names.length)];
    const t = params[n];
    const i = rng.int(t.size);
    const w = t.data[i];
    t.data[i] = w + h;
    const up = loss();
    t.data[i] = w - h;
    const down = loss();
    t.data[i] = w;
    const fd = (up - down) / (2 * h);
    assert.ok(Math.abs(fd - a[n].data[i]) <= 1e-7 * Math.max(1, Math.abs(fd)), `${n}[${i}]: finite difference ${fd} vs ${a[n].data[i]}`);
  }
});
