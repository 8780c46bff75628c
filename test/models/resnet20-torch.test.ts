// ResNet-20 forward and one SGD step against PyTorch (fixture: tools/make-resnet20-fixture.py).
// Weights and inputs come from the same integer generator on both sides, so only results are committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import { buildModel } from '../../src/models/index.js';
import { forward } from '../../src/ir/forward.js';
import { trainableNames, type Params } from '../../src/ir/graph.js';
import { Sgd } from '../../src/train/optim.js';
import { packageRoot } from '../../src/data/index.js';

interface Stats { sum: number; sumsq: number; samples: [number, number][] }
const fx = JSON.parse(readFileSync(join(packageRoot(), 'test/fixtures/torch/resnet20_step.json'), 'utf8')) as {
  order: string[]; logits: number[]; loss: number; after: Record<string, Stats>;
};

function fill(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((((i * 40503 + seed * 977) % 65536) / 65536) - 0.5) * scale;
  return out;
}

function close(actual: number, expected: number, scale: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-4 * Math.max(Math.abs(expected), scale), `${what}: ${actual} vs PyTorch ${expected}`);
}

test('ResNet-20 forward, loss and one SGD step match PyTorch within 1e-4 relative', () => {
  const graph = buildModel('resnet20', { numClasses: 10, inputShape: [3, 8, 8] });
  const params: Params = {};
  const shapes = new Map<string, number[]>();
  for (const n of graph.nodes) {
    if (n.op === 'conv2d') shapes.set(`${n.name}.weight`, [n.outChannels, n.inChannels / n.groups, ...n.kernel]);
    if (n.op === 'linear') { shapes.set(`${n.name}.weight`, [n.outFeatures, n.inFeatures]); shapes.set(`${n.name}.bias`, [n.outFeatures]); }
    if (n.op === 'batchnorm') for (const r of ['weight', 'bias', 'running_mean', 'running_var']) shapes.set(`${n.name}.${r}`, [n.channels]);
  }
  let seed = 1;
  for (const name of fx.order) {
    const shape = shapes.get(name);
    assert.ok(shape, `PyTorch parameter ${name} has no counterpart`);
    const n = shape.reduce((p, d) => p * d, 1);
    let v: Float32Array;
    if (name.endsWith('running_var')) v = fill(n, seed, 0.4).map((x) => 1 + Math.abs(x));
    else if (name.endsWith('running_mean') || name.endsWith('bias')) v = fill(n, seed, 0.2);
    else if (shape.length === 1) v = fill(n, seed, 0.2).map((x) => 1 + x);
    else v = fill(n, seed, 2 * Math.sqrt(3 / (n / shape[0])));
    params[name] = new Tensor(v, shape);
    seed++;
  }
  assert.equal(Object.keys(params).length, shapes.size);
  const x = new Tensor(fill(4 * 3 * 8 * 8, 999, 2), [4, 3, 8, 8]);
  const y = new Int32Array([0, 1, 2, 3]);
  const trainable: Params = {};
  for (const n of trainableNames(graph)) trainable[n] = params[n];
  let logits: Tensor | null = null;
  const { value, grads } = valueAndGrad((p: Params) => {
    logits = forward(graph, { ...params, ...p }, x, { training: true });
    return crossEntropy(logits, y);
  })(trainable);
  const scale = Math.max(...fx.logits.map(Math.abs));
  fx.logits.forEach((l, i) => close(logits!.data[i], l, scale, `logit ${i}`));
  close(value.item(), fx.loss, 1, 'loss');
  new Sgd({ momentum: 0.9, weightDecay: 5e-4 }).step(params, grads, 0.1);
  for (const name of fx.order) {
    const e = fx.after[name];
    const d = params[name].data;
    let sum = 0, sumsq = 0;
    for (let i = 0; i < d.length; i++) { sum += d[i]; sumsq += d[i] * d[i]; }
    close(sumsq, e.sumsq, 1, `${name} Σw² after the step`);
    close(sum, e.sum, Math.sqrt(e.sumsq), `${name} Σw after the step`);
    const s = Math.sqrt(e.sumsq / d.length);
    for (const [i, v] of e.samples) close(d[i], v, s, `${name}[${i}] after the step`);
  }
});
