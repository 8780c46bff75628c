// The README's library example must really run: extract it, point its import at the library, execute it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { packageRoot } from '../src/data/index.js';

const root = packageRoot();
const examples = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

/** Runs one README example against the library sources; returns its stdout. */
function runExample(code: string): string {
  const dir = mkdtempSync(join(root, '.readme-example-'));
  try {
    const file = join(dir, 'example.ts');
    writeFileSync(file, code.replace("from 'metaprune'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`));
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('README has its two library examples', () => {
  assert.equal(examples.length, 2, 'expected the training and the pruning example');
});

test('README training example runs and prints a finite loss', () => {
  const out = runExample(examples[0]);
  const loss = Number(/loss ([\d.eE+-]+)/.exec(out)?.[1]);
  assert.ok(Number.isFinite(loss) && loss > 0 && loss < 10, `loss ${out}`);
});

test('README pruning example reaches 2x and prints the Torch-Pruning one-liner', () => {
  const out = runExample(examples[1]);
  const m = /MACs: 127\.37 M => ([\d.]+) M \(([\d.]+)x\)/.exec(out);
  assert.ok(m, out);
  assert.ok(Number(m[2]) >= 2 && Number(m[1]) <= 127.37 / 2, out);
  rmSync(join(root, 'runs', 'resnet56-pruned.json'), { force: true });
  rmSync(join(root, 'runs', 'resnet56-pruned.bin'), { force: true });
});
