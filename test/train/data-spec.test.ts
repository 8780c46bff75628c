// The named full-resolution Fashion-MNIST: Debian's dataset-fashion-mnist when installed, else an error saying how to get it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDataSpec, FASHION_MNIST_DIR } from '../../src/train/run.js';

const installed = existsSync(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));

test('data spec fashion-mnist is the IDX files of Debian\'s dataset-fashion-mnist', () => {
  if (installed) assert.deepEqual(parseDataSpec('fashion-mnist'), { kind: 'idx', dir: FASHION_MNIST_DIR });
  else assert.throws(() => parseDataSpec('fashion-mnist'), /apt-get install dataset-fashion-mnist/);
});

test('an unknown data spec lists the accepted ones', () => {
  assert.throws(() => parseDataSpec('mnist'), /expected fashion-mnist-14, fashion-mnist, idx:DIR/);
});
