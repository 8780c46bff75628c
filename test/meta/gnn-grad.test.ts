/**
 * Gradient of a loss on the generated network w.r.t. the metanetwork's parameters φ, against central
 * finite differences (float64, tiny GNN and tiny residual CNN covering 3×3, 1×1-projection, identity
 * and classifier edges), and the two-stage form used by meta-training (ordinary backprop to θ', then
 * one VJP through the metanetwork) against the one-pass gradient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { forward } from '../../src/ir/forward.js';
import { trainableNames, type ModelGraph, type Params } from '../../src/ir/graph.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, randn } from '../../src/tensor/tensor.js';
import { backward, noGrad, valueAndGrad, vjp } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import { Metanet, metanetApply, type MetanetParams } from '../../src/meta/metanet.js';
import { randomParams } from '../graph/helpers.js';

/** input 2×5×5 → conv3×3(3)+BN+ReLU → conv3×3 s2 (4)+BN ⊕ [1×1 s2 projection (4)+BN] → ReLU → conv3×3(4)+BN ⊕ identity → ReLU → GAP → linear(3). */
function tinyResnet(): ModelGraph {
  const b = new GraphBuilder('tiny-res');
  const x0 = b.input([2, 5, 5]);
  const x1 = b.convBn(x0, 'c1', 3, { kernel: 3, padding: 1 }, 'relu', 'bn1');
  const y = b.bn(b.conv(x1, 'c2', 4, { kernel: 3, stride: 2, padding: 1 }), 'bn2');
  const sc = b.bn(b.conv(x1, 'ds', 4, { kernel: 1, stride: 2 }), 'ds_bn');
  const x2 = b.relu(b.add([y, sc], 'add1'));
  const z = b.bn(b.conv(x2, 'c3', 4, { kernel: 3, padding: 1 }), 'bn3');
  const x3 = b.relu(b.add([z, x2], 'add2'));
  return b.build(b.linear(b.gap(x3), 'fc', 3));
}

const g = tinyResnet();
const theta = randomParams(g, 1, 'float64');
const rng = new Rng(2);
const x = randn([3, 2, 5, 5], rng, 1, 'float64');
const labels = [0, 2, 1];

function loss(net: Metanet, phi: MetanetParams): Tensor {
  return crossEntropy(forward(g, net.apply(g, theta, phi), x), labels);
}

function fdCheck(net: Metanet, samples: number, seed: number): { worst: number; absWorst: number; checked: number; gmax: number } {
  const { grads } = valueAndGrad((phi: MetanetParams) => loss(net, phi))(net.params);
  let gmax = 0;
  for (const t of Object.values(grads)) for (let i = 0; i < t.size; i++) gmax = Math.max(gmax, Math.abs(t.data[i]));
  const r = new Rng(seed);
  const names = Object.keys(net.params);
  const h = 1e-6;
  let worst = 0;
  let absWorst = 0;
  let checked = 0;
  // every parameter tensor at least once, then random elements
  const picks: [string, number][] = names.map((k) => [k, r.int(net.params[k].size)]);
  while (picks.length < samples) {
    const k = names[r.int(names.length)];
    picks.push([k, r.int(net.params[k].size)]);
  }
  for (const [k, i] of picks) {
    const d = net.params[k].data;
    const orig = d[i];
    d[i] = orig + h;
    const fp = noGrad(() => loss(net, net.params).item());
    d[i] = orig - h;
    const fm = noGrad(() => loss(net, net.params).item());
    d[i] = orig;
    const numeric = (fp - fm) / (2 * h);
    const analytic = grads[k].data[i];
    const err = Math.abs(analytic - numeric) / (Math.abs(numeric) + 1e-4 * gmax);
    assert.ok(err < 1e-4, `'${k}'[${i}]: analytic ${analytic} vs numeric ${numeric} (err ${err})`);
    worst = Math.max(worst, err);
    absWorst = Math.max(absWorst, Math.abs(analytic - numeric));
    checked++;
  }
  return { worst, absWorst, checked, gmax };
}

test('dLoss/dφ matches finite differences: L = 1, H = 4', () => {
  const net = new Metanet({ layers: 1, hidden: 4, eps: 0.5, seed: 3, dtype: 'float64' });
  const r = fdCheck(net, 60, 4);
  assert.ok(r.gmax > 1e-3, `gradients are suspiciously small (max ${r.gmax})`);
  console.log(`L=1: ${r.checked} checked, worst rel. error ${r.worst.toExponential(2)} (abs ${r.absWorst.toExponential(2)}), max |g| ${r.gmax.toExponential(2)}`);
});

test('dLoss/dφ matches finite differences: L = 2, H = 4', () => {
  const net = new Metanet({ layers: 2, hidden: 4, eps: 0.5, seed: 5, dtype: 'float64' });
  const r = fdCheck(net, 60, 6);
  console.log(`L=2: ${r.checked} checked, worst rel. error ${r.worst.toExponential(2)} (abs ${r.absWorst.toExponential(2)}), max |g| ${r.gmax.toExponential(2)}`);
});

test('meta-training form: backprop to detached θ\', then one VJP through the metanetwork = one-pass gradient', () => {
  const net = new Metanet({ layers: 2, hidden: 4, eps: 0.5, seed: 7, dtype: 'float64' });
  const direct = valueAndGrad((phi: MetanetParams) => loss(net, phi))(net.params).grads;
  // 1. θ' on the tape of traced φ leaves
  const names = trainableNames(g);
  const via = vjp(
    (phi: MetanetParams) => {
      const gen = metanetApply(phi, net.config, g, theta);
      return names.map((n) => gen[n]);
    },
    net.params,
    (() => {
      // 2. g = ∇θ' CE at the detached generated weights, by ordinary backprop
      const gen = noGrad(() => net.apply(g, theta));
      const trainable: Params = {};
      for (const n of names) trainable[n] = gen[n];
      const { grads } = valueAndGrad((p: Params) => crossEntropy(forward(g, { ...gen, ...p }, x), labels))(trainable);
      return names.map((n) => grads[n]);
    })(),
  ).grads;
  for (const k of Object.keys(direct)) {
    for (let i = 0; i < direct[k].size; i++) {
      const a = direct[k].data[i], b = via[k].data[i];
      assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a)), `'${k}'[${i}]: ${a} vs ${b}`);
    }
  }
  // and with the engine's raw backward over traced leaves (what meta-training calls)
  const leaves: MetanetParams = {};
  for (const [k, t] of Object.entries(net.params)) {
    const l = t.detach();
    l.requiresGrad = true;
    leaves[k] = l;
  }
  const gen = net.apply(g, theta, leaves);
  const lossT = crossEntropy(forward(g, gen, x), labels);
  const raw = backward([lossT], [new Float64Array([1])], Object.values(leaves));
  Object.keys(leaves).forEach((k, j) => {
    for (let i = 0; i < raw[j].length; i++) assert.ok(Math.abs(raw[j][i] - direct[k].data[i]) <= 1e-12 * Math.max(1, Math.abs(raw[j][i])), `raw backward '${k}'[${i}]`);
  });
});
