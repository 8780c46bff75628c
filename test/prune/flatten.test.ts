import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkZeroEqualsPruned, makeModel, randomSubset } from './helpers.js';
import { getGroups } from '../../src/prune/index.js';
import type { LinearNode } from '../../src/ir/graph.js';

test('flatten→linear: each channel owns its contiguous spatial block of linear inputs', () => {
  const { graph } = makeModel('flatcnn');
  const groups = getGroups(graph);
  assert.deepEqual(groups.map((g) => [g.root, g.size]), [['conv1', 8], ['conv2', 16], ['fc1', 32]]);
  const fc1In = groups[1].slices.find((s) => s.param === 'fc1.weight')!;
  assert.equal(fc1In.axis, 1);
  assert.deepEqual(fc1In.indices[0], [0, 1, 2, 3, 4, 5, 6, 7, 8]); // conv2 output is 16×3×3
  assert.deepEqual(fc1In.indices[5], [45, 46, 47, 48, 49, 50, 51, 52, 53]);
  // fc1 is a prunable linear root (rows + bias), consumed by fc2's columns.
  assert.deepEqual(groups[2].slices.map((s) => `${s.param}@${s.axis}:${s.kind}`), ['fc1.weight@0:out', 'fc1.bias@0:out', 'fc2.weight@1:in']);
});

test('flatten→linear: zeroed full model == pruned model', () => {
  const { graph, params } = makeModel('flatcnn');
  const r = checkZeroEqualsPruned(graph, params, randomSubset(0.5));
  const fc1 = r.graph.nodes.find((n) => n.name === 'fc1') as LinearNode;
  assert.equal(fc1.inFeatures, 8 * 9);
  assert.equal(fc1.outFeatures, 16);
  assert.deepEqual([...r.params['fc1.weight'].shape], [16, 72]);
});
