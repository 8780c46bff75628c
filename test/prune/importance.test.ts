import { test } from 'node:test';
import assert from 'node:assert/strict';
import './helpers.js';
import { tinyModel } from './tiny.js';
import { makeModel } from './helpers.js';
import { tensor } from '../../src/tensor/tensor.js';
import {
  bnScaleImportance, getGroups, magnitudeImportance, normalizeImportance, randomImportance, reduceImportance, taylorImportance, DEFAULT_IMPORTANCE,
} from '../../src/prune/index.js';

function near(actual: ArrayLike<number> | null, expected: number[], what: string, tol = 1e-12): void {
  assert.ok(actual !== null, `${what}: null`);
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

test('group L2 magnitude, mean reduction, max normalizer: hand-computed example', () => {
  const { graph, params } = tinyModel();
  const groups = getGroups(graph);
  assert.deepEqual(groups.map((g) => g.root), ['conv1', 'conv2']);
  // conv1 group members: conv1 rows w² = [1, 4, 16]; bn1 γ² = [1, 4, 4]; conv2 columns w² = [4, 4, 4].
  // Mean over 3 members = [6, 12, 24] / 3 = [2, 4, 8]; max-normalized = [0.25, 0.5, 1].
  const [g1, g2] = DEFAULT_IMPORTANCE.scores(groups, params);
  near(g1, [0.25, 0.5, 1], 'default');
  near(g2, [1], 'single-channel group');
  const imp = (o: Parameters<typeof magnitudeImportance>[0]) => magnitudeImportance(o).scores(groups, params)[0];
  near(imp({ normalizer: 'none' }), [2, 4, 8], 'none');
  near(imp({ normalizer: 'mean' }), [3 / 7, 6 / 7, 12 / 7], 'mean (mean = 14/3)');
  near(imp({ normalizer: 'sum' }), [1 / 7, 2 / 7, 4 / 7], 'sum');
  near(imp({ normalizer: 'standardization' }), [0, 2 / (6 + 1e-8), 6 / (6 + 1e-8)], 'standardization');
  near(imp({ normalizer: 'gaussian' }), [(2 - 14 / 3) / (Math.sqrt(28 / 3) + 1e-8), (4 - 14 / 3) / (Math.sqrt(28 / 3) + 1e-8), (8 - 14 / 3) / (Math.sqrt(28 / 3) + 1e-8)], 'gaussian');
  near(imp({ groupReduction: 'sum', normalizer: 'none' }), [6, 12, 24], 'sum reduction');
  near(imp({ groupReduction: 'max', normalizer: 'none' }), [4, 4, 16], 'max reduction');
  near(imp({ groupReduction: 'first', normalizer: 'none' }), [1, 4, 16], 'first = root out rows');
  near(imp({ groupReduction: 'prod', normalizer: 'none' }), [4, 64, 256], 'prod');
  // L1: rows [1, 2, 4], |γ| [1, 2, 2], columns [2, 2, 2] → mean [4/3, 2, 8/3] → max-normalized [0.5, 0.75, 1].
  near(imp({ p: 1 }), [0.5, 0.75, 1], 'p = 1');
  // bias: true adds bn1 β² = [1, 0, 9] as a fourth member: [7, 12, 33] / 4.
  near(imp({ bias: true, normalizer: 'none' }), [1.75, 3, 8.25], 'bias');
});

test('BN-scale, Taylor and random importance', () => {
  const { graph, params } = tinyModel();
  const groups = getGroups(graph);
  // |γ| = [1, 2, 2], one member, mean normalizer (mean 5/3).
  near(bnScaleImportance().scores(groups, params)[0], [0.6, 1.2, 1.2], 'bn scale');
  // All gradients 1: |w·g| = |w| → mean [4/3, 2, 8/3], mean-normalized (mean 2).
  const ones: Record<string, ReturnType<typeof tensor>> = {};
  for (const [k, t] of Object.entries(params)) ones[k] = tensor(new Array<number>(t.size).fill(1), t.shape);
  near(taylorImportance({ grads: ones }).scores(groups, params)[0], [2 / 3, 1, 4 / 3], 'taylor');
  const r1 = randomImportance({ seed: 3 }).scores(groups, params, { step: 2 });
  const r2 = randomImportance({ seed: 3 }).scores(groups, params, { step: 2 });
  const r3 = randomImportance({ seed: 4 }).scores(groups, params, { step: 2 });
  assert.deepEqual(r1, r2);
  assert.notDeepEqual(r1, r3);
  assert.ok(r1[0]!.every((v) => v >= 0 && v < 1));
});

test('reduce / normalize helpers follow Torch-Pruning (mean divides by the member count, NaN propagates)', () => {
  near(reduceImportance([[1, 2], [3, null]], 2, 'mean'), [2, 1], 'mean with a missing entry');
  near(reduceImportance([[1, 2], [3, null]], 2, 'max'), [3, 2], 'max');
  const nan = normalizeImportance(new Float64Array([0, 0]), 'max');
  assert.ok(nan.every(Number.isNaN), 'all-zero group / max → NaN (0/0), never pruned');
});

test('flatten→linear in-slice importance sums the whole spatial block', () => {
  const { graph, params } = makeModel('flatcnn');
  const g = getGroups(graph).find((x) => x.root === 'conv2')!;
  const imp = magnitudeImportance({ normalizer: 'none', groupReduction: 'sum' }).scores([g], params)[0]!;
  const w = params['fc1.weight'];
  let expect3 = 0;
  for (let o = 0; o < 32; o++) for (let f = 27; f < 36; f++) expect3 += w.data[o * 144 + f] ** 2;
  const c2 = params['conv2.weight'];
  for (let i = 3 * 72; i < 4 * 72; i++) expect3 += c2.data[i] ** 2;
  expect3 += params['bn2.weight'].data[3] ** 2;
  near([imp[3]], [expect3], 'channel 3', 1e-6);
});
