import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkZeroEqualsPruned, makeModel, randomSubset } from './helpers.js';
import { buildDependencyGraph, prunableGroups } from '../../src/prune/index.js';
import type { Conv2dNode } from '../../src/ir/graph.js';

test('MobileNetV2: depthwise convs couple their input and output channels (inverted residuals share groups)', () => {
  const { graph } = makeModel('mobilenetv2', { inputShape: [3, 32, 32], numClasses: 10 });
  const groups = prunableGroups(buildDependencyGraph(graph));
  const expand = groups.find((g) => g.root === 'features.2.expand')!;
  assert.deepEqual(expand.slices.map((s) => `${s.param}@${s.axis}:${s.kind}`).filter((s) => !s.includes('running')), [
    'features.2.expand.weight@0:out', 'features.2.expand_bn.weight@0:bn', 'features.2.expand_bn.bias@0:bn',
    'features.2.dw.weight@0:out', 'features.2.dw_bn.weight@0:bn', 'features.2.dw_bn.bias@0:bn', 'features.2.project.weight@1:in',
  ]);
  // features.2 (24 ch) and features.3 (24 ch, residual) project into one group.
  const p2 = groups.find((g) => g.root === 'features.2.project')!;
  assert.ok(p2.slices.some((s) => s.param === 'features.3.project.weight' && s.kind === 'out'));
  assert.ok(!groups.some((g) => g.root === 'features.3.project'));
  // No depthwise conv is a root.
  assert.ok(!groups.some((g) => g.root.endsWith('.dw')));
});

test('MobileNetV2 [3,32,32]: zeroed full model == pruned model; depthwise group counts shrink with the channels', () => {
  const { graph, params } = makeModel('mobilenetv2', { inputShape: [3, 32, 32], numClasses: 10 });
  const r = checkZeroEqualsPruned(graph, params, randomSubset(0.25), { batch: 2 });
  for (const n of r.graph.nodes) {
    if (n.op !== 'conv2d' || !n.name.endsWith('.dw')) continue;
    assert.equal(n.groups, n.inChannels, n.name);
    assert.equal(n.outChannels, n.inChannels, n.name);
    assert.deepEqual([...r.params[`${n.name}.weight`].shape], [n.outChannels, 1, 3, 3]);
  }
  const dw = r.graph.nodes.find((n) => n.name === 'features.2.dw') as Conv2dNode;
  assert.equal(dw.groups, 96 - Math.round(96 * 0.25));
});
