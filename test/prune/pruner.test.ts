import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeModel } from './helpers.js';
import { countOps } from '../../src/ir/count.js';
import type { Conv2dNode, ModelGraph } from '../../src/ir/graph.js';
import { Pruner, buildDependencyGraph, getGroups, prunableGroups, pruneToSpeedup, taylorImportance, randomImportance } from '../../src/prune/index.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import { forward } from '../../src/ir/forward.js';
import { randomInput } from './helpers.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const conv = (g: ModelGraph, name: string) => g.nodes.find((n) => n.name === name) as Conv2dNode;

test('progressive pruning to 2× MACs (ResNet-20 [3,16,16]): MACs, speed-up within one step, classifier untouched, no group emptied', () => {
  const { graph, params } = makeModel('resnet20', { inputShape: [3, 16, 16] });
  const r = pruneToSpeedup(graph, params, { speedup: 2 });
  assert.equal(r.baseMacs, countOps(graph).macs);
  assert.equal(r.macs, countOps(r.graph).macs, 'reported MACs == countOps of the new model');
  assert.equal(r.speedup, r.baseMacs / r.macs);
  assert.ok(r.speedup >= 2, `speed-up ${r.speedup}`);
  const prev = r.history.steps.length >= 2 ? r.history.steps[r.history.steps.length - 2].macs : r.baseMacs;
  assert.ok(r.baseMacs / prev < 2, 'the step before reached less than the target (stopped as soon as possible)');
  assert.equal(r.steps, r.history.steps.length);
  assert.ok(r.steps > 10 && r.steps < 200, `steps ${r.steps}`);
  // The classifier keeps every output and its bias bit for bit.
  const fc = r.graph.nodes.find((n) => n.name === 'fc')!;
  assert.ok(fc.op === 'linear' && fc.outFeatures === 10);
  assert.deepEqual([...r.params['fc.bias'].data], [...params['fc.bias'].data]);
  // Every layer keeps at least one channel; every group survives.
  for (const n of r.graph.nodes) if (n.op === 'conv2d') assert.ok(n.outChannels >= 1 && n.inChannels >= 1, n.name);
  assert.equal(getGroups(r.graph).length, getGroups(graph).length);
  // Parameters match the new graph's shapes.
  for (const n of r.graph.nodes) if (n.op === 'conv2d') assert.deepEqual([...r.params[`${n.name}.weight`].shape], [n.outChannels, n.inChannels, ...n.kernel]);
  // The input model is not modified.
  assert.equal(conv(graph, 'conv1').outChannels, 16);
});

test('Torch-Pruning schedule: global ranking removes k/steps of the ORIGINAL channels at step k; local ranking per group', () => {
  const { graph, params } = makeModel('resnet20', { inputShape: [3, 8, 8] });
  const groups0 = getGroups(graph);
  const total = groups0.reduce((s, g) => s + g.size, 0);
  const p = new Pruner(graph, params, { iterativeSteps: 20 });
  for (let k = 1; k <= 5; k++) {
    p.step();
    const now = getGroups(p.graph).reduce((s, g) => s + g.size, 0);
    assert.equal(now, Math.trunc(total * (1 - k / 20)), `step ${k}`);
  }
  const local = new Pruner(graph, params, { iterativeSteps: 10, globalPruning: false });
  for (let k = 0; k < 3; k++) local.step();
  for (const g of getGroups(local.graph)) {
    const init = groups0.find((x) => x.root === g.root)!.size;
    assert.equal(g.size, Math.trunc(init * 0.7), g.root);
  }
});

test('roundTo keeps channel counts multiples of N; ignoredLayers and maxPruningRatio are honored', () => {
  const { graph, params } = makeModel('resnet20', { inputShape: [3, 8, 8] });
  const r4 = pruneToSpeedup(graph, params, { speedup: 2.5, roundTo: 4 });
  for (const n of r4.graph.nodes) if (n.op === 'conv2d') assert.equal(n.outChannels % 4, 0, `${n.name}: ${n.outChannels}`);
  assert.ok(r4.speedup >= 2.5);

  const ig = pruneToSpeedup(graph, params, { speedup: 2, ignoredLayers: ['fc', 'layer1.0.conv1', 'layer3.1.conv1'] });
  assert.equal(conv(ig.graph, 'layer1.0.conv1').outChannels, 16);
  assert.equal(conv(ig.graph, 'layer3.1.conv1').outChannels, 64);
  // Only the OUTPUT channels of an ignored layer are frozen; its input columns follow the stage group.
  assert.equal(ig.params['layer1.0.conv1.weight'].shape[0], 16);
  assert.deepEqual([...ig.params['layer1.0.bn1.running_mean'].data], [...params['layer1.0.bn1.running_mean'].data]);

  const half = pruneToSpeedup(graph, params, { speedup: 1.8, maxPruningRatio: 0.5 });
  const before = new Map(getGroups(graph).map((g) => [g.root, g.size]));
  for (const g of getGroups(half.graph)) assert.ok(g.size >= before.get(g.root)! / 2, `${g.root}: ${g.size} of ${before.get(g.root)}`);
});

test('no group is ever emptied, even when the schedule asks for everything', () => {
  const { graph, params } = makeModel('concatnet');
  const p = new Pruner(graph, params, { iterativeSteps: 4 });
  for (let k = 0; k < 4; k++) p.step();
  const groups = prunableGroups(buildDependencyGraph(p.graph));
  assert.ok(groups.every((g) => g.size === 1), groups.map((g) => `${g.root}:${g.size}`).join(' '));
  assert.throws(() => p.step(), /all 4 steps of the schedule are done/);
});

test('Taylor importance re-computes gradients on the shrunk model at every step; random importance is seeded', () => {
  const { graph, params } = makeModel('smallcnn');
  const x = randomInput(graph, 4, 9);
  const y = [1, 2, 3, 4];
  let calls = 0;
  const grads = (g: ModelGraph | undefined, p: Record<string, Tensor>) => {
    calls++;
    return valueAndGrad((q: Record<string, Tensor>) => crossEntropy(forward(g!, q, x, { training: false }), y))(p).grads;
  };
  const t = new Pruner(graph, params, { iterativeSteps: 10, importance: taylorImportance({ grads }) });
  for (let k = 0; k < 3; k++) t.step();
  assert.equal(calls, 3);
  assert.ok(t.macs < t.baseMacs);
  const a = pruneToSpeedup(graph, params, { speedup: 1.5, importance: randomImportance({ seed: 1 }) });
  const b = pruneToSpeedup(graph, params, { speedup: 1.5, importance: randomImportance({ seed: 1 }) });
  assert.deepEqual(a.history, b.history);
});

test('no step overshoots: one step to a 2× target lands just above 2×, not at the schedule\'s 400×; the default schedule is unchanged', async () => {
  const { replayHistory } = await import('../../src/prune/index.js');
  for (const [name, shape] of [['smallcnn', [1, 14, 14]], ['resnet20', [3, 16, 16]]] as const) {
    const { graph, params } = makeModel(name, { inputShape: [...shape] });
    const one = pruneToSpeedup(graph, params, { speedup: 2, iterativeSteps: 1 });
    assert.ok(one.speedup >= 2 && one.speedup < 2.1, `${name}: one step gives ${one.speedup}×`);
    assert.equal(one.macs, countOps(one.graph).macs);
    // Untrimmed, the single step removes everything it may (the behaviour this guards against).
    const raw = pruneToSpeedup(graph, params, { speedup: 2, iterativeSteps: 1, overshootTolerance: Infinity });
    assert.ok(raw.speedup > 100, `${name}: untrimmed ${raw.speedup}×`);
    // The trimmed step is recorded like any other and replays bit for bit.
    assert.equal(JSON.stringify(replayHistory(graph, params, one.history).graph), JSON.stringify(one.graph));
    const five = pruneToSpeedup(graph, params, { speedup: 3, iterativeSteps: 5 });
    assert.ok(five.speedup >= 3 && five.speedup <= 3 * 1.1, `${name}: five steps give ${five.speedup}×`);
  }
  // With the default 200 steps no step is cut on smallcnn: the same model as the plain schedule.
  const { graph, params } = makeModel('smallcnn', { inputShape: [1, 14, 14] });
  const a = pruneToSpeedup(graph, params, { speedup: 3 });
  const b = pruneToSpeedup(graph, params, { speedup: 3, overshootTolerance: Infinity });
  assert.equal(JSON.stringify(a.graph), JSON.stringify(b.graph));
  assert.equal(a.macs, b.macs);
});
