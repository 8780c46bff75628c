import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkZeroEqualsPruned, makeModel, randomSubset } from './helpers.js';
import { getGroups } from '../../src/prune/index.js';
import type { Conv2dNode } from '../../src/ir/graph.js';

test('chain CNN (smallcnn): zeroed full model == pruned model in eval mode', () => {
  const { graph, params } = makeModel('smallcnn');
  const groups = getGroups(graph);
  // conv1..conv5 each own a group; the classifier fc is ignored.
  assert.deepEqual(groups.map((g) => [g.root, g.size]), [['conv1', 16], ['conv2', 32], ['conv3', 32], ['conv4', 64], ['conv5', 64]]);
  const conv2 = groups[1];
  assert.deepEqual(conv2.slices.map((s) => `${s.param}@${s.axis}:${s.kind}`), [
    'conv2.weight@0:out', 'bn2.weight@0:bn', 'bn2.bias@0:bn', 'bn2.running_mean@0:bn', 'bn2.running_var@0:bn', 'conv3.weight@1:in',
  ]);
  const r = checkZeroEqualsPruned(graph, params, randomSubset(0.4));
  assert.equal(r.removedGroups, 5);
  const c3 = r.graph.nodes.find((n) => n.name === 'conv3') as Conv2dNode;
  assert.equal(c3.inChannels, 32 - Math.round(32 * 0.4));
  assert.equal(c3.outChannels, 32 - Math.round(32 * 0.4));
  assert.deepEqual([...r.params['bn3.running_var'].shape], [c3.outChannels]);
});
