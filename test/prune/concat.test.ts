import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkZeroEqualsPruned, makeModel, randomSubset } from './helpers.js';
import { getGroups } from '../../src/prune/index.js';
import type { Conv2dNode } from '../../src/ir/graph.js';

test('concat: branch channels map to offset columns of the consumer', () => {
  const { graph } = makeModel('concatnet');
  const groups = getGroups(graph);
  assert.deepEqual(groups.map((g) => [g.root, g.size]), [['stem', 16], ['branch1', 8], ['branch2a', 8], ['branch2b', 12], ['mix', 32]]);
  const mixIn = (root: string) => groups.find((g) => g.root === root)!.slices.find((s) => s.param === 'mix.weight')!;
  // concat order: branch1 (8) | branch2b (12) | maxpool(stem) (16)
  assert.deepEqual(mixIn('branch1').indices, Array.from({ length: 8 }, (_, k) => [k]));
  assert.deepEqual(mixIn('branch2b').indices, Array.from({ length: 12 }, (_, k) => [8 + k]));
  assert.deepEqual(mixIn('stem').indices, Array.from({ length: 16 }, (_, k) => [20 + k]));
  // The stem group also feeds both branch convs directly.
  const stem = groups.find((g) => g.root === 'stem')!;
  assert.deepEqual(stem.slices.filter((s) => s.kind === 'in').map((s) => s.param), ['branch1.weight', 'branch2a.weight', 'mix.weight']);
});

test('concat: zeroed full model == pruned model', () => {
  const { graph, params } = makeModel('concatnet');
  const r = checkZeroEqualsPruned(graph, params, randomSubset(0.4));
  const c = (name: string) => r.graph.nodes.find((n) => n.name === name) as Conv2dNode;
  assert.equal(c('mix').inChannels, c('branch1').outChannels + c('branch2b').outChannels + c('stem').outChannels);
});
