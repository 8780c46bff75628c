import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkZeroEqualsPruned, makeModel, randomSubset } from './helpers.js';
import { buildDependencyGraph, getGroups, prunableGroups } from '../../src/prune/index.js';
import type { Conv2dNode } from '../../src/ir/graph.js';
import { GraphBuilder } from '../../src/ir/builder.js';

test('ResNet-20: residual adds couple all producers of a stage into one group', () => {
  const { graph } = makeModel('resnet20', { inputShape: [3, 16, 16] });
  const dg = buildDependencyGraph(graph);
  const groups = prunableGroups(dg);
  // 3 stage groups (stem / downsample + every conv2 of the stage) and 9 intra-block groups.
  assert.equal(groups.length, 12);
  const stage1 = groups.find((g) => g.root === 'conv1')!;
  const outs = stage1.slices.filter((s) => s.kind === 'out').map((s) => s.param);
  assert.deepEqual(outs, ['conv1.weight', 'layer1.0.conv2.weight', 'layer1.1.conv2.weight', 'layer1.2.conv2.weight']);
  const ins = stage1.slices.filter((s) => s.kind === 'in').map((s) => s.param);
  assert.deepEqual(ins, ['layer1.0.conv1.weight', 'layer1.1.conv1.weight', 'layer1.2.conv1.weight', 'layer2.0.conv1.weight', 'layer2.0.downsample.0.weight']);
  const stage3 = groups.find((g) => g.root === 'layer3.0.conv2')!;
  assert.ok(stage3.slices.some((s) => s.param === 'layer3.0.downsample.0.weight' && s.kind === 'out'));
  assert.ok(stage3.slices.some((s) => s.param === 'layer3.0.downsample.1.weight' && s.kind === 'bn'));
  assert.ok(stage3.slices.some((s) => s.param === 'fc.weight' && s.kind === 'in'), 'the classifier input is in the last stage group');
  // The classifier's own output group exists but is not prunable.
  assert.ok(dg.groupByRoot.has('fc'));
  assert.ok(!groups.some((g) => g.root === 'fc'));
  // Every group channel maps to exactly one index per slice here.
  for (const g of groups) for (const s of g.slices) assert.ok(s.indices.every((l) => l.length === 1), `${g.root} ${s.param}`);
});

test('ResNet-20: zeroed full model == pruned model (stage groups and intra-block groups)', () => {
  const { graph, params } = makeModel('resnet20', { inputShape: [3, 16, 16] });
  const r = checkZeroEqualsPruned(graph, params, randomSubset(0.3));
  assert.equal(r.removedGroups, 12);
  const n = (name: string) => r.graph.nodes.find((x) => x.name === name) as Conv2dNode;
  // The residual stream keeps one width through the stage.
  assert.equal(n('layer2.0.conv2').outChannels, n('layer2.0.downsample.0').outChannels);
  assert.equal(n('layer2.1.conv1').inChannels, n('layer2.0.conv2').outChannels);
  assert.equal(n('conv1').outChannels, 16 - Math.round(16 * 0.3));
});

test('smallcnn-res: identity shortcuts couple conv2/conv3 and conv4/conv5', () => {
  const { graph, params } = makeModel('smallcnn-res');
  assert.deepEqual(getGroups(graph).map((g) => g.root), ['conv1', 'conv2', 'conv4']);
  checkZeroEqualsPruned(graph, params, randomSubset(0.5));
});

test('channels added to the model input are never pruned (no group for them)', () => {
  const b = new GraphBuilder('inputres');
  const x = b.input([4, 6, 6]);
  const y = b.relu(b.add([x, b.bn(b.conv(x, 'c1', 4, { kernel: 3, padding: 1 }), 'bn1')]));
  const z = b.convBn(y, 'c2', 8, { kernel: 3, padding: 1 }, 'relu', 'bn2');
  const graph = b.build(b.linear(b.gap(z), 'fc', 2));
  assert.deepEqual(getGroups(graph).map((g) => g.root), ['c2']);
});
