import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeModel } from './helpers.js';
import { Rng } from '../../src/tensor/random.js';
import { cloneParams } from '../../src/ir/init.js';
import type { Dataset } from '../../src/data/index.js';
import { train, type TrainConfig } from '../../src/train/loop.js';
import { DEFAULT_IMPORTANCE, addRegularizerGrad, getGroups, regularizerHook, sparseTrain } from '../../src/prune/index.js';

function toyData(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Float32Array(n * 14 * 14);
  for (let i = 0; i < images.length; i++) images[i] = rng.normal();
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(10);
  return { name: 'toy', images, labels, n, channels: 1, height: 14, width: 14, numClasses: 10 };
}

const config: TrainConfig = {
  epochs: 2, batchSize: 16, lr: 0.05, seed: 3,
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 0 }, schedule: { kind: 'constant' },
};

test('sparseTrain = the train loop + the regularizer gradient at every step (γ from the current weights)', () => {
  const { graph, params } = makeModel('smallcnn');
  const data = toyData(48, 1);
  const reg = 0.05;
  const a = cloneParams(params);
  sparseTrain({ graph, params: a, train: data, config }, { reg });
  // Same run through train() with an explicit hook recomputing γ every step.
  const b = cloneParams(params);
  const groups = getGroups(graph);
  let calls = 0;
  train({ graph, params: b, train: data, config, hooks: { extraGrad: (p, g) => { calls++; addRegularizerGrad(g, graph, p, groups, { reg, alpha: 16 }); } } });
  assert.equal(calls, 2 * 3);
  for (const k of Object.keys(a)) assert.deepEqual([...a[k].data], [...b[k].data], k);
  // And it differs from plain training, shrinking the weakest channels the most.
  const c = cloneParams(params);
  train({ graph, params: c, train: data, config });
  assert.notDeepEqual([...a['conv3.weight'].data], [...c['conv3.weight'].data]);
  const g = groups.find((x) => x.root === 'conv3')!;
  const imp0 = DEFAULT_IMPORTANCE.scores([g], params)[0]!;
  const impA = DEFAULT_IMPORTANCE.scores([g], a, {})[0]!;
  const impC = DEFAULT_IMPORTANCE.scores([g], c, {})[0]!;
  const weakest = imp0.indexOf(Math.min(...imp0));
  assert.ok(impA[weakest] < impC[weakest], `weakest channel: sparse ${impA[weakest]} vs plain ${impC[weakest]}`);
  // Existing hooks still run.
  let own = 0;
  sparseTrain({ graph, params: cloneParams(params), train: data, config: { ...config, epochs: 1 }, hooks: { extraGrad: () => { own++; } } }, { reg });
  assert.equal(own, 3);
  assert.equal(typeof regularizerHook(graph, { reg }), 'function');
});
