import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/ir/builder.js';
import { initParams } from '../../src/ir/init.js';
import { applyPruning, buildDependencyGraph, prunableGroups } from '../../src/prune/index.js';
import { checkZeroEqualsPruned, randomizeBn } from './helpers.js';
import type { Conv2dNode, ModelGraph } from '../../src/ir/graph.js';

function groupedNet(): ModelGraph {
  const b = new GraphBuilder('groupednet');
  let x = b.input([4, 8, 8]);
  x = b.convBn(x, 'a', 8, { kernel: 3, padding: 1 }, 'relu', 'a_bn');
  x = b.convBn(x, 'g', 12, { kernel: 3, padding: 1, groups: 4 }, 'relu', 'g_bn'); // 2 in / 3 out per group
  x = b.convBn(x, 'c', 6, { kernel: 1 }, 'relu', 'c_bn');
  return b.build(b.linear(b.gap(x), 'fc', 3));
}

test('grouped conv: channels are pruned in balanced units (local index j of every group), groups kept', () => {
  const graph = groupedNet();
  const groups = prunableGroups(buildDependencyGraph(graph));
  const a = groups.find((g) => g.root === 'a')!;
  const g = groups.find((x) => x.root === 'g')!;
  assert.deepEqual(a.rootChannels, [[0, 2, 4, 6], [1, 3, 5, 7]]);
  assert.deepEqual(g.rootChannels, [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]);
  // The grouped conv's in-slice of unit j is column j (shared by every group).
  assert.deepEqual(a.slices.find((s) => s.param === 'g.weight')!.indices, [[0], [1]]);
  const params = initParams(graph, 3);
  randomizeBn(graph, params, 4);
  const r = checkZeroEqualsPruned(graph, params, (grp) => (grp.root === 'a' ? [1] : grp.root === 'g' ? [0, 2] : [2]));
  const gn = r.graph.nodes.find((n) => n.name === 'g') as Conv2dNode;
  assert.deepEqual([gn.inChannels, gn.outChannels, gn.groups], [4, 4, 4]);
  assert.deepEqual([...r.params['g.weight'].shape], [4, 1, 3, 3]);
  assert.throws(() => applyPruning(graph, params, { a: [1, 3] }), /channels 1, 3, 5, 7 must be removed together/);
});
