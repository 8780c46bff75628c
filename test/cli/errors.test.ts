// One error hierarchy (MetapruneError), mapped to messages and exit codes in one place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { describeError } from '../../src/cli/errors.js';
import { MetapruneError } from '../../src/errors.js';
import { TensorError, EngineError } from '../../src/tensor/errors.js';
import { DataError } from '../../src/data/errors.js';
import { ConfigError } from '../../src/cli/config.js';
import { UsageError } from '../../src/cli/args.js';
import { OnnxError } from '../../src/io/onnx/errors.js';
import { CheckpointError } from '../../src/io/tensor-file.js';
import { PruneError } from '../../src/prune/errors.js';
import { GraphError } from '../../src/ir/graph.js';
import { NeuralGraphError } from '../../src/graph/errors.js';
import { TrainingError } from '../../src/train/loop.js';
import { saveCheckpoint, loadCheckpoint } from '../../src/io/checkpoint.js';
import { buildModel } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!readdirSync(dir).includes('package.json')) dir = dirname(dir);
  return dir;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every error class is a MetapruneError with a code; src/ throws no plain Error', () => {
  const cases: [MetapruneError, string][] = [
    [new TensorError('conv2d', 'bad'), 'tensor'], [new EngineError('x'), 'engine'], [new DataError('x', { file: 'f' }), 'data'],
    [new ConfigError('x', { key: 'train.lr' }), 'config'], [new UsageError('x'), 'usage'], [new OnnxError('x'), 'onnx'],
    [new CheckpointError('f.json', 'x'), 'checkpoint'], [new PruneError('x'), 'prune'], [new GraphError('x'), 'graph'],
    [new NeuralGraphError('x'), 'graph'], [new TrainingError('x'), 'training'],
  ];
  for (const [e, code] of cases) {
    assert.ok(e instanceof MetapruneError, e.name);
    assert.equal(e.code, code, e.name);
  }
  assert.equal(new ConfigError('x', { key: 'train.lr' }).subject, 'train.lr');
  assert.equal(new CheckpointError('f.json', 'x').subject, 'f.json');
  // No source file throws a plain Error / RangeError / TypeError or defines an unrelated error class.
  const offenders: string[] = [];
  for (const f of sources(join(repoRoot(), 'src'))) {
    const lines = readFileSync(f, 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (/new (Error|RangeError|TypeError)\(/.test(l) || (/class \w+ extends Error\b/.test(l) && !/class (MetapruneError|Stop) /.test(l))) offenders.push(`${f}:${i + 1}: ${l.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});

test('exit codes: usage, config and value errors 2; others 1; file and internal errors in words', () => {
  assert.equal(describeError(new UsageError('x')).exitCode, 2);
  assert.equal(describeError(new ConfigError('x')).exitCode, 2);
  assert.equal(describeError(new DataError('x')).exitCode, 1);
  const dir = mkdtempSync(join(tmpdir(), 'mp-err-'));
  try {
    let sys: unknown;
    try {
      writeFileSync(dir, 'x');
    } catch (e) {
      sys = e;
    }
    const r = describeError(sys);
    assert.equal(r.code, 'io');
    assert.equal(r.message, `${dir}: is a directory; expected a file (EISDIR)`);
    assert.equal(r.subject, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const internal = describeError(new TypeError("e.shape.reduce is not a function"));
  assert.equal(internal.code, 'internal');
  assert.match(internal.message, /^internal error \(TypeError: e\.shape\.reduce is not a function\): .*--debug/);
  assert.match(describeError(new RangeError('Maximum call stack size exceeded')).message, /nested or linked too deeply/);
});

test('a usage error prints one line and a pointer to --help, not the whole help', async () => {
  const r = await run('train', '--epoch', '3');
  assert.equal(r.code, 2);
  assert.deepEqual(r.err.split('\n'), ["metaprune: unknown option --epoch for 'train' (did you mean --epochs?)", "Run 'metaprune train --help' for usage."]);
  const v = await run('train', 'train.lr=-1');
  assert.equal(v.err.split('\n').length, 2);
});

test('metaprune help CMD is CMD --help; an unknown topic is a usage error', async () => {
  const h = await run('help', 'prune');
  assert.equal(h.code, 0);
  assert.equal(h.out, (await run('prune', '--help')).out);
  assert.match((await run('help')).out, /^Usage: metaprune <command>/);
  const bad = await run('help', 'prun');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /help: unknown command 'prun'/);
});

test('--json: errors are JSON on stdout, --version --json is JSON', async () => {
  const v = await run('--version', '--json');
  assert.match((JSON.parse(v.out) as { version: string }).version, /^\d+\.\d+\.\d+/);
  const e = await run('--json', 'train', '--epochs', '0');
  assert.equal(e.code, 2);
  const j = JSON.parse(e.out) as { error: { code: string; message: string; subject: string; exitCode: number } };
  assert.equal(j.error.code, 'config');
  assert.equal(j.error.subject, 'train.epochs');
  assert.equal(j.error.exitCode, 2);
  assert.match(j.error.message, /expected an integer ≥ 1/);
  // A parse error (before the --json flag is parsed) is JSON too.
  const p = await run('--json', 'nope');
  assert.equal((JSON.parse(p.out) as { error: { code: string } }).error.code, 'usage');
});

test('malformed checkpoint JSON is a CheckpointError naming the file, not a raw TypeError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-ckerr-'));
  try {
    const graph = buildModel('smallcnn', { numClasses: 10, inputShape: [1, 14, 14] });
    const path = join(dir, 'ck');
    saveCheckpoint(path, { graph, params: initParams(graph, 0), metadata: {} });
    const good = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as { meta: unknown; tensors: { shape: unknown }[] };
    const variants: [string, (j: typeof good) => unknown, RegExp][] = [
      ['shape not a list', (j) => ({ ...j, tensors: j.tensors.map((t, i) => (i === 0 ? { ...t, shape: 5 } : t)) }), /tensor table entry 0 is .*expected \{"name": string, "shape"/],
      ['negative dimension', (j) => ({ ...j, tensors: j.tensors.map((t, i) => (i === 0 ? { ...t, shape: [-768] } : t)) }), /tensor table entry 0/],
      ['meta null', (j) => ({ ...j, meta: null }), /has no model graph/],
      ['whole file null', () => null, /expected a JSON object with format/],
    ];
    for (const [what, mutate, re] of variants) {
      writeFileSync(`${path}.json`, JSON.stringify(mutate(structuredClone(good))));
      assert.throws(() => loadCheckpoint(path), (e: unknown) => {
        assert.ok(e instanceof CheckpointError, `${what}: ${String(e)}`);
        assert.match(e.message, re, what);
        assert.ok(e.message.startsWith(`${path}.json: `), what);
        return true;
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
