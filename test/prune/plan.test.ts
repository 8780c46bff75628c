// The pruning plan (kept original indices per parameter) rebuilds the pruned parameters from the
// original ones bit for bit; a layer ratio prunes its group by exactly that fraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeModel } from './helpers.js';
import { Pruner, pruningPlan, getGroups } from '../../src/prune/index.js';
import { takeAlong } from '../../src/prune/surgery.js';
import type { Tensor } from '../../src/tensor/tensor.js';

test('MobileNetV2: the plan\'s kept indices select the pruned parameters from the original ones; a layer ratio is exact', () => {
  const { graph, params } = makeModel('mobilenetv2', { inputShape: [3, 32, 32], numClasses: 10 });
  const g = getGroups(graph).find((x) => x.root === 'features.2.expand')!;
  const pruner = new Pruner(graph, params, { iterativeSteps: 4, pruningRatio: 0.5, layerRatios: { 'features.2.dw': 0.25 } });
  for (let k = 0; k < 4; k++) pruner.step();
  const plan = pruningPlan(graph, params, pruner.history);
  assert.ok(Object.keys(plan.params).length > 10);
  for (const [name, t] of Object.entries(pruner.params)) {
    let orig: Tensor = params[name];
    for (const [axis, idx] of Object.entries(plan.params[name] ?? {})) orig = takeAlong(orig, Number(axis), Int32Array.from(idx));
    assert.deepEqual([...orig.shape], [...t.shape], name);
    assert.deepEqual([...orig.data], [...t.data], name);
  }
  assert.equal(plan.params['features.2.expand.weight']['0'].length, g.size - Math.round(g.size * 0.25));
});
