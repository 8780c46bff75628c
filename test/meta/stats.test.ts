// Bootstrap intervals against distributions enumerated by hand, and the random path against the normal approximation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapCI, bootstrapGroupsCI, meanStd } from '../../src/meta/stats.js';
import { Rng } from '../../src/data/prng.js';

test('meanStd: sample standard deviation (n − 1)', () => {
  const r = meanStd([1, 2, 3, 4]);
  assert.equal(r.mean, 2.5);
  assert.ok(Math.abs(r.std - Math.sqrt(5 / 3)) < 1e-15);
  assert.equal(r.n, 4);
  assert.equal(meanStd([7]).std, 0);
});

test('bootstrapCI enumerates all 27 resamples of [0, 0, 3] exactly', () => {
  // resample means: 0 (8/27), 1 (12/27), 2 (6/27), 3 (1/27); cumulative .296, .741, .963, 1
  assert.deepEqual(bootstrapCI([0, 0, 3], { resamples: 27 }), { lo: 0, hi: 3 });
  // 50 %: the 25 % quantile is 0 (.296 ≥ .25), the 75 % quantile is 2 (.741 < .75 ≤ .963)
  assert.deepEqual(bootstrapCI([0, 0, 3], { resamples: 27, confidence: 0.5 }), { lo: 0, hi: 2 });
});

test('bootstrapGroupsCI resamples whole groups: [[1, 3], [5]]', () => {
  // resamples (g0,g0) mean 2, (g0,g1) and (g1,g0) mean 9/3 = 3, (g1,g1) mean 5, each 1/4
  assert.deepEqual(bootstrapGroupsCI([[1, 3], [5]], { resamples: 4 }), { lo: 2, hi: 5 });
  assert.deepEqual(bootstrapGroupsCI([[1, 3], [5]], { resamples: 4, confidence: 0.5 }), { lo: 2, hi: 3 });
});

test('random bootstrap of a normal sample is close to mean ± 1.96 s/√n, and deterministic per seed', () => {
  const rng = new Rng(3);
  const xs = Array.from({ length: 40 }, () => {
    const u = Math.max(rng.next(), 1e-12), v = rng.next();
    return 2 + Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  });
  const { mean, std } = meanStd(xs);
  const half = 1.96 * std / Math.sqrt(xs.length);
  const ci = bootstrapCI(xs, { resamples: 20_000, seed: 1 });
  // the percentile bootstrap is slightly narrower than the t interval for n = 40: within 15 %
  assert.ok(Math.abs((ci.hi - ci.lo) / (2 * half) - 1) < 0.15, `width ${ci.hi - ci.lo} vs ${2 * half}`);
  assert.ok(Math.abs((ci.hi + ci.lo) / 2 - mean) < 0.2 * half);
  assert.deepEqual(bootstrapCI(xs, { resamples: 20_000, seed: 1 }), ci);
  assert.notDeepEqual(bootstrapCI(xs, { resamples: 20_000, seed: 2 }), ci);
});

test('bootstrap: empty input gives NaN bounds; bad options are refused', () => {
  const e = bootstrapCI([]);
  assert.ok(Number.isNaN(e.lo) && Number.isNaN(e.hi));
  assert.throws(() => bootstrapCI([1, 2], { confidence: 1 }), /confidence/);
  assert.throws(() => bootstrapCI([1, 2], { resamples: 0 }), /resamples/);
});
