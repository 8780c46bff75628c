import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeMean, t975 } from '../../src/report/stats.js';

test('summarizeMean: mean, sample sd and the t-based 95 % interval', () => {
  // xs = 1..5: mean 3, sd = sqrt(2.5), half-width = t(0.975, 4) * sd / sqrt(5) = 2.776 * 0.70711
  const s = summarizeMean([1, 2, 3, 4, 5, NaN]);
  assert.equal(s.n, 5);
  assert.equal(s.mean, 3);
  assert.ok(Math.abs(s.sd - Math.sqrt(2.5)) < 1e-12);
  assert.ok(Math.abs(s.hi - 3 - 2.776 * Math.sqrt(0.5)) < 1e-12);
  assert.ok(Math.abs(s.lo - (6 - s.hi)) < 1e-12);
  const two = summarizeMean([0, 2]);
  assert.ok(Math.abs(two.hi - (1 + 12.706)) < 1e-9); // sd = sqrt(2), half-width = t(1) * sqrt(2) / sqrt(2)
  const one = summarizeMean([4]);
  assert.deepEqual([one.mean, one.sd], [4, 0]);
  assert.ok(Number.isNaN(one.lo) && Number.isNaN(one.hi));
  assert.ok(Number.isNaN(summarizeMean([]).mean));
});

test('t975 matches tabulated quantiles and tends to 1.96', () => {
  assert.equal(t975(1), 12.706);
  assert.equal(t975(10), 2.228);
  assert.ok(Math.abs(t975(40) - 2.021) < 0.002);
  assert.ok(Math.abs(t975(120) - 1.98) < 0.002);
  assert.ok(Number.isNaN(t975(0)));
});
