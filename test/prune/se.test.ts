// Squeeze-and-excitation (GlobalAveragePool → 1×1 conv → act → 1×1 conv → hard sigmoid → Mul with
// the trunk) and the per-channel parameters of PReLU, on a PyTorch-style ONNX import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkZeroEqualsPruned, randomSubset } from './helpers.js';
import { buildDependencyGraph, prunableGroups } from '../../src/prune/index.js';
import { importOnnx } from '../../src/io/onnx/index.js';
import { seNetOnnx } from '../io/onnx-build.js';

const { graph, params } = importOnnx(seNetOnnx());
const sliceList = (root: string) => prunableGroups(buildDependencyGraph(graph)).find((g) => g.root === root)?.slices.map((s) => `${s.param}@${s.axis}:${s.kind}`);

test('SE: the excite layer\'s outputs join the trunk\'s group; the squeeze channels are their own group', () => {
  assert.deepEqual(sliceList('stem'), [
    'stem.weight@0:out', 'stem.bias@0:out', 'se.fc1.weight@1:in', 'se.fc2.weight@0:out', 'se.fc2.bias@0:out', 'proj.weight@1:in',
  ]);
  assert.deepEqual(sliceList('se.fc1'), ['se.fc1.weight@0:out', 'se.fc1.bias@0:out', 'se.fc2.weight@1:in']);
  assert.equal(sliceList('se.fc2'), undefined, 'the excite layer is no root of its own');
  // PReLU's slope goes with its channels; the classifier (before the softmax output) is never pruned
  assert.deepEqual(sliceList('proj'), ['proj.weight@0:out', 'prelu.weight@0:bn', 'fc.weight@1:in']);
  assert.equal(sliceList('fc'), undefined);
});

test('SE + PReLU: zeroed full model == pruned model', () => {
  const r = checkZeroEqualsPruned(graph, params, randomSubset(0.5), { batch: 2 });
  assert.equal(r.removedGroups, 3);
  const fc1 = r.graph.nodes.find((n) => n.name === 'se.fc1')!;
  assert.ok(fc1.op === 'linear' && fc1.inFeatures === 4 && fc1.outFeatures === 2);
  const pr = r.graph.nodes.find((n) => n.name === 'prelu')!;
  assert.ok(pr.op === 'prelu' && pr.channels === 3);
  assert.deepEqual([...r.params['prelu.weight'].shape], [3]);
});
