// The augmentation config keys of a training recipe reach the batcher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RECIPE, toTrainConfig } from '../../src/train/run.js';

test('augment, augmentPadding and augmentFlip become the batcher options', () => {
  assert.deepEqual(toTrainConfig({ ...DEFAULT_RECIPE, augment: true, augmentPadding: 2, augmentFlip: false }).augment, { padding: 2, flip: false });
  assert.deepEqual(toTrainConfig({ ...DEFAULT_RECIPE, augment: true }).augment, { padding: 4, flip: true });
  assert.equal(toTrainConfig({ ...DEFAULT_RECIPE, augment: false, augmentPadding: 2 }).augment, false);
  const { augmentPadding: _p, augmentFlip: _f, ...old } = DEFAULT_RECIPE;
  assert.equal(toTrainConfig({ ...old, augment: true }).augment, true);
});
