// Run-directory ownership and Ctrl-C through the CLI: second writers, other runs, resume with other
// settings, a missing metrics line after a kill, prune-onnx over its input, SIGINT during train.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { main } from '../../src/cli/main.js';
import { encodeIdx } from '../../src/data/index.js';
import { acquireRunLock } from '../../src/io/run-dir.js';
import { readMetrics } from '../../src/report/metrics.js';

const root = mkdtempSync(join(tmpdir(), 'mp-cli-rundir-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A tiny MNIST-style dataset (14×14, 4 classes) so CLI training takes a moment. */
function tinyIdx(n: number): string {
  const dir = mkdtempSync(join(root, 'idx-'));
  for (const [prefix, count] of [['train', n], ['t10k', 32]] as const) {
    const px = new Uint8Array(count * 196).map((_, i) => (i * 37 + (i >> 7)) & 0xff);
    const labels = new Uint8Array(count).map((_, i) => i % 4);
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx({ type: 'uint8', dims: [count, 14, 14], data: px }));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx({ type: 'uint8', dims: [count], data: labels }));
  }
  return dir;
}
const data = tinyIdx(64);
const tiny = ['--data', `idx:${data}`, 'train.batchSize=32', 'width=0.25'];

test('train refuses a locked directory, another run, and resuming with other settings; --force starts over', async () => {
  const out = join(root, 'train');
  const first = await run('train', '--out', out, '--epochs', '2', ...tiny);
  assert.equal(first.code, 0, first.err);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));

  const lock = acquireRunLock(out, 'train');
  const locked = await run('train', '--out', out, '--resume', '--epochs', '2', ...tiny);
  lock.release();
  assert.equal(locked.code, 1);
  assert.match(locked.err, new RegExp(`in use by 'train' \\(pid ${process.pid}`));

  const again = await run('train', '--out', out, '--epochs', '2', ...tiny);
  assert.equal(again.code, 1);
  assert.match(again.err, /already holds a 'train' run; continue it with --resume, overwrite it with --force/);

  const other = await run('train', '--out', out, '--resume', '--epochs', '3', '--seed', '4', ...tiny);
  assert.equal(other.code, 1);
  assert.match(other.err, /cannot resume with other settings \(train\.epochs 2 → 3, train\.seed 0 → 4\)/);

  const pruneHere = await run('prune', '--checkpoint', join(out, 'checkpoints', 'epoch_1'), '--out', out, `data=idx:${data}`);
  assert.equal(pruneHere.code, 1);
  assert.match(pruneHere.err, /already holds a 'train' run/);

  // a kill between the last checkpoint and its metrics line: resuming the finished run writes the
  // line back and keeps the accuracy in the summary
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trimEnd().split('\n');
  writeFileSync(join(out, 'metrics.jsonl'), lines.slice(0, -1).join('\n') + '\n');
  const resumed = await run('train', '--out', out, '--resume', '--epochs', '2', ...tiny);
  assert.equal(resumed.code, 0, resumed.err);
  const epochs = readMetrics(join(out, 'metrics.jsonl')).filter((r) => r['kind'] === 'epoch').map((r) => r['epoch']);
  assert.deepEqual(epochs, [0, 1]);
  const after = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(after.testAcc, summary.testAcc);

  const forced = await run('train', '--out', out, '--force', '--epochs', '1', ...tiny);
  assert.equal(forced.code, 0, forced.err);
  assert.ok(!existsSync(join(out, 'checkpoints', 'epoch_1.json')), 'the previous run\'s checkpoints are gone');
  assert.equal(readMetrics(join(out, 'metrics.jsonl')).filter((r) => r['kind'] === 'epoch').length, 1);

  const ck = join(out, 'checkpoints', 'epoch_0');
  const self = await run('apply-metanet', '--metanet', 'x', '--checkpoint', ck, '--out', `${ck}.json`);
  assert.equal(self.code, 2);
  assert.match(self.err, /is an input checkpoint; choose another path or add --force/);

  const empty = await run('train', '--out', '', ...tiny);
  assert.notEqual(empty.code, 0);
  assert.match(empty.err, /--out '': expected a directory path/);
});

test('prune-onnx refuses to overwrite its input without --force', async () => {
  const src = join(root, 'm.onnx');
  copyFileSync(new URL('../../../test/fixtures/onnx/resnet_tiny_op13.onnx', import.meta.url), src);
  const before = readFileSync(src);
  const r = await run('prune-onnx', src, '--out', src, '--no-latency');
  assert.equal(r.code, 2);
  assert.match(r.err, /is the input model; choose another path or add --force/);
  assert.deepEqual(readFileSync(src), before);
  assert.match((await run('prune-onnx', src, '--out', '', '--no-latency')).err, /--out '': expected a file path/);
});

test('Ctrl-C during train stops after the current step, saves a checkpoint, says how to resume and exits 130', async () => {
  const out = join(root, 'sigint');
  const bin = new URL('../../src/cli/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, 'train', '--out', out, '--data', `idx:${tinyIdx(512)}`, 'train.batchSize=8', 'width=0.25', '--epochs', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // the lock appears once the command runs, i.e. after its SIGINT handler is installed
  while (!existsSync(join(out, '.metaprune.lock')) && child.exitCode === null) await new Promise((r) => setTimeout(r, 25));
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, err);
  assert.match(err, /interrupted at epoch 1, step \d+; saved .*interrupted/);
  assert.match(err, /resume with: metaprune train --out .* --resume/);
  assert.ok(existsSync(join(out, 'checkpoints', 'interrupted.json')) && existsSync(join(out, 'checkpoints', 'interrupted.bin')));
  assert.ok(!existsSync(join(out, '.metaprune.lock')), 'the lock is released');
});
