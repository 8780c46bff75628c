// The meta-gradient (one VJP through the metanetwork of g = ∇θ'ΣCE + ∇θ'R) equals finite
// differences of the total meta-loss ΣCE(θ'(φ)) + R(θ'(φ)) on a tiny case (float64, γ frozen as
// the method's stop-gradient prescribes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import { Rng } from '../../src/tensor/random.js';
import { buildModel } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { forward } from '../../src/ir/forward.js';
import type { Params } from '../../src/ir/graph.js';
import { loadDataset, subset, batches } from '../../src/data/index.js';
import { getGroups, regularizerGammas, regularizerLoss } from '../../src/prune/index.js';
import { Metanet } from '../../src/meta/metanet.js';
import { metaGradient } from '../../src/meta/metatrain.js';
import type { DataModel, ZooEntry } from '../../src/meta/zoo.js';

test('meta-gradient equals finite differences of ΣCE + R (tiny GNN, tiny CNN, float64)', () => {
  const graph = buildModel('smallcnn', { width: 0.25 });
  const p32 = initParams(graph, 3);
  const params: Params = {};
  const rng = new Rng(5);
  for (const [k, t] of Object.entries(p32)) {
    params[k] = t.to('float64');
    // non-trivial BN statistics and affine parameters
    if (k.endsWith('running_var')) params[k].data.forEach((_, i, a) => (a[i] = 0.5 + rng.next()));
    else if (k.includes('bn') && !k.endsWith('running_mean')) params[k].data.forEach((v, i, a) => (a[i] = v + 0.3 * (rng.next() - 0.5)));
  }
  const dm: DataModel = { entry: { index: 0 } as ZooEntry, graph, params };
  const data = subset(loadDataset().train, 16, 1);
  const metanet = new Metanet({ layers: 1, hidden: 4, eps: 0.5, seed: 2, dtype: 'float64' });
  const groups = getGroups(graph);
  const o = { batches: 2, batchSize: 8, seed: 3, epoch: 0, alpha: 16, reg: 0.7, groups };
  const mg = metaGradient(metanet, dm, data, o);
  // the loss as a plain function of φ, with γ frozen at the base point
  const gammas = regularizerGammas(groups, noGrad(() => metanet.apply(graph, params)));
  const xs = [...batches(data, 8, { shuffle: true, seed: o.seed, epoch: o.epoch })].slice(0, o.batches);
  const metaLoss = (): number => noGrad(() => {
    const gen = metanet.apply(graph, params);
    let l = 0;
    for (const b of xs) l += crossEntropy(forward(graph, gen, new Tensor(b.x, b.shape).to('float64'), { training: false }), b.y).item();
    return l + regularizerLoss(graph, gen, groups, { reg: o.reg, alpha: o.alpha, gammas }).item();
  });
  const base = metaLoss();
  assert.ok(Math.abs(base - (mg.ce + mg.r)) < 1e-9 * Math.max(1, base), `loss ${base} vs ${mg.ce + mg.r}`);
  // the BN-scale diagnostic: |γ'|/|γ| per channel against the generated network, computed here
  const gen = noGrad(() => metanet.apply(graph, params));
  const ratios = Object.keys(params).filter((k) => /^bn\d+\.weight$/.test(k))
    .flatMap((k) => Array.from(params[k]!.data, (g0, c) => Math.abs(gen[k]!.data[c]!) / Math.abs(g0)));
  assert.ok(ratios.length > 0);
  assert.ok(Math.abs(mg.bnGamma.ratio - ratios.reduce((a, b) => a + b, 0) / ratios.length) < 1e-12, `γ ratio ${mg.bnGamma.ratio}`);
  assert.equal(mg.bnGamma.shrunk, ratios.filter((r) => r < 0.5).length / ratios.length);
  assert.ok(Math.abs(mg.bnGamma.ratio - 1) > 1e-6, 'with ε = 0.5 the metanetwork moves γ');
  const pick = new Rng(11);
  let checked = 0;
  for (const [name, t] of Object.entries(metanet.params)) {
    for (let k = 0; k < 3; k++) {
      const i = pick.int(t.size);
      const orig = t.data[i];
      const h = 1e-5;
      t.data[i] = orig + h;
      const up = metaLoss();
      t.data[i] = orig - h;
      const down = metaLoss();
      t.data[i] = orig;
      const fd = (up - down) / (2 * h);
      const an = mg.grads[name].data[i];
      const err = Math.abs(fd - an) / Math.max(1e-3, Math.abs(fd));
      assert.ok(err < 1e-4, `${name}[${i}]: analytic ${an} vs finite difference ${fd}`);
      checked++;
    }
  }
  assert.ok(checked > 20, `checked ${checked}`);
  // the gradient is not trivially zero
  assert.ok(Object.values(mg.grads).some((g) => g.data.some((v) => Math.abs(v) > 1e-6)));
});

test('meta-gradient: rematerializing the metanetwork (large graphs) gives the same bits as keeping its tape', () => {
  const graph = buildModel('smallcnn', { width: 0.25 });
  const params = initParams(graph, 4);
  const dm: DataModel = { entry: { index: 0 } as ZooEntry, graph, params };
  const data = subset(loadDataset().train, 16, 1);
  const metanet = new Metanet({ layers: 2, hidden: 8, eps: 0.5, seed: 6 });
  const o = { batches: 2, batchSize: 8, seed: 3, epoch: 0, alpha: 16, reg: 0.7, groups: getGroups(graph) };
  const kept = metaGradient(metanet, dm, data, { ...o, rematerialize: false });
  const remat = metaGradient(metanet, dm, data, { ...o, rematerialize: true });
  assert.equal(remat.ce, kept.ce);
  assert.equal(remat.r, kept.r);
  let nonzero = 0;
  for (const [k, g] of Object.entries(kept.grads)) {
    assert.deepEqual(Array.from(remat.grads[k].data), Array.from(g.data), k);
    nonzero += g.data.some((v) => v !== 0) ? 1 : 0;
  }
  assert.ok(nonzero > 0, 'some φ-gradient is non-zero');
});
