import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeModel } from './helpers.js';
import { cloneGraph, type NodeDef } from '../../src/ir/graph.js';
import { Pruner, PruneError, applyPruning, buildDependencyGraph, getGroups, pruneToSpeedup } from '../../src/prune/index.js';

test('speed-up ≤ 1 is rejected', () => {
  const { graph, params } = makeModel('smallcnn');
  for (const s of [1, 0.5, -2, NaN]) {
    assert.throws(() => pruneToSpeedup(graph, params, { speedup: s }), (e: unknown) => e instanceof PruneError && /speed-up must be > 1 \(base MACs \/ pruned MACs\), got/.test(e.message));
  }
});

test('an unreachable speed-up is rejected before pruning, naming the best reachable value', () => {
  const { graph, params } = makeModel('smallcnn');
  assert.throws(
    () => pruneToSpeedup(graph, params, { speedup: 1e4 }),
    /speed-up 10000× is unreachable for 'smallcnn': with every prunable group at its minimum the speed-up is \d+\.\d{3}× \(ignored layers: fc\)/,
  );
  // With maxPruningRatio 0.2 even 2× is out of reach.
  assert.throws(() => pruneToSpeedup(graph, params, { speedup: 2, maxPruningRatio: 0.2 }), /unreachable/);
});

test('an unknown layer in ignoredLayers is an error listing the valid layer names', () => {
  const { graph, params } = makeModel('smallcnn');
  const msg = "ignoredLayers: unknown layer name 'conv9' in model 'smallcnn'; valid layer names: conv1, conv2, conv3, conv4, conv5, fc";
  assert.throws(() => pruneToSpeedup(graph, params, { speedup: 2, ignoredLayers: ['conv9'] }), { message: msg });
  assert.throws(() => new Pruner(graph, params, { ignoredLayers: ['conv9'] }), { message: msg });
  assert.throws(() => getGroups(graph, { ignoredLayers: ['conv9'] }), { message: msg });
});

test('an unsupported structure (an op without a pruning rule) is an error naming the node and op', () => {
  const { graph } = makeModel('smallcnn');
  const g = cloneGraph(graph);
  const relu = g.nodes.find((n) => n.name === 'relu2')!;
  (relu as { op: string }).op = 'gelu'; // an op the IR does not know (softmax, once the example, is supported now)
  assert.throws(() => buildDependencyGraph(g), (e: unknown) => e instanceof PruneError && /^node 'relu2' \(gelu\): no pruning rule for op 'gelu'; supported ops: input, conv2d/.test(e.message));
  void (relu as NodeDef);
});

test('bad removal requests: unknown root, emptying a group, out-of-range channel, bad options', () => {
  const { graph, params } = makeModel('smallcnn');
  assert.throws(() => applyPruning(graph, params, { bn2: [0] }), /'bn2' is not the root of a prunable group; roots: conv1, conv2, conv3, conv4, conv5, fc/);
  assert.throws(() => applyPruning(graph, params, { conv1: Array.from({ length: 16 }, (_, i) => i) }), /group 'conv1': removing all 16 channels would empty the group/);
  assert.throws(() => applyPruning(graph, params, { conv1: [16] }), /group 'conv1': channel 16 out of range 0..15/);
  assert.throws(() => new Pruner(graph, params, { roundTo: 0 }), /roundTo must be a positive integer, got 0/);
  assert.throws(() => new Pruner(graph, params, { iterativeSteps: 2.5 }), /iterativeSteps must be a positive integer, got 2.5/);
  const missing = { ...params };
  delete missing['bn3.running_var'];
  assert.throws(() => applyPruning(graph, missing, { conv3: [0] }), /node 'bn3' \(batchnorm\): missing parameter 'bn3.running_var'/);
});
