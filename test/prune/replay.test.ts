import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeModel } from './helpers.js';
import { pruneToSpeedup, replayHistory, type PruningHistory } from '../../src/prune/index.js';
import type { Params } from '../../src/ir/graph.js';

function sameBits(a: Params, b: Params): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const k of Object.keys(a)) {
    assert.deepEqual([...a[k].shape], [...b[k].shape], k);
    assert.ok(Buffer.from(a[k].data.buffer, a[k].data.byteOffset, a[k].data.byteLength).equals(Buffer.from(b[k].data.buffer, b[k].data.byteOffset, b[k].data.byteLength)), `${k}: bits differ`);
  }
}

for (const [name, shape] of [['resnet20', [3, 8, 8]], ['mobilenetv2', [3, 32, 32]], ['concatnet', undefined], ['flatcnn', undefined]] as const) {
  test(`replaying the JSON history reproduces the pruned ${name} bit for bit`, () => {
    const { graph, params } = makeModel(name, { inputShape: shape ? [...shape] : undefined, numClasses: 10 });
    const r = pruneToSpeedup(graph, params, { speedup: name === 'mobilenetv2' ? 1.3 : 2, iterativeSteps: name === 'mobilenetv2' ? 50 : 200 });
    const json = JSON.stringify(r.history);
    const history = JSON.parse(json) as PruningHistory;
    assert.equal(history.model, graph.name);
    assert.ok(history.steps.some((s) => Object.keys(s.removed).length > 0));
    const rep = replayHistory(graph, params, history);
    assert.equal(JSON.stringify(rep.graph), JSON.stringify(r.graph));
    sameBits(rep.params, r.params);
  });
}

test('replayHistory rejects a history of another model', () => {
  const { graph, params } = makeModel('flatcnn');
  const r = pruneToSpeedup(graph, params, { speedup: 1.5 });
  const other = makeModel('concatnet');
  assert.throws(() => replayHistory(other.graph, other.params, r.history), /history is for model 'flatcnn', got 'concatnet'/);
});
