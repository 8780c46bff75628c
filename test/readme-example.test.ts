// The README's library example must really run: extract it, point its import at the library, execute it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { packageRoot } from '../src/data/index.js';

test('README library example runs and prints a finite loss', () => {
  const root = packageRoot();
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = /```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a ```ts example');
  const dir = mkdtempSync(join(root, '.readme-example-'));
  try {
    const file = join(dir, 'example.ts');
    writeFileSync(file, m[1].replace("from 'metaprune'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`));
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const loss = Number(/loss ([\d.eE+-]+)/.exec(r.stdout)?.[1]);
    assert.ok(Number.isFinite(loss) && loss > 0 && loss < 10, `loss ${r.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
