// `metaprune prune-onnx` and `metaprune inspect-onnx` (the command modules, run through the CLI's argv parser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/tensor/backends/index.js';
import { parseArgs, formatUsage, UsageError, type ArgSpec } from '../../src/cli/args.js';
import type { Command } from '../../src/cli/command.js';
import { onnxPruneCommand, onnxInspectCommand } from '../../src/cli/commands/onnx.js';
import { buildModel } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { countOps } from '../../src/ir/count.js';
import { exportOnnx, loadOnnx, loadOnnxRuntime, OnnxError } from '../../src/io/onnx/index.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}

const FIX = join(repoRoot(), 'test', 'fixtures', 'onnx');
const dir = mkdtempSync(join(tmpdir(), 'mp-onnx-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const ort = await loadOnnxRuntime();

const COMMANDS: Command[] = [onnxPruneCommand, onnxInspectCommand];
const SPEC: ArgSpec = {
  program: 'metaprune',
  commands: Object.fromEntries(COMMANDS.map((c) => [c.name, c.spec])),
  flags: { json: { type: 'boolean', description: 'JSON output' } },
};

async function run(...argv: string[]): Promise<{ out: string; lines: string[] }> {
  const args = parseArgs(argv, SPEC);
  const lines: string[] = [];
  await COMMANDS.find((c) => c.name === args.command)!.run(args, { json: args.flags['json'] === true, out: (l) => lines.push(l), err: (l) => lines.push(`ERR ${l}`) });
  return { out: lines.join('\n'), lines };
}

test('both commands have help with examples', () => {
  for (const c of COMMANDS) {
    const h = formatUsage(SPEC, c.name);
    assert.match(h, new RegExp(`Usage: metaprune ${c.name}`));
    assert.match(h, /Examples:/);
  }
  assert.match(formatUsage(SPEC, 'prune-onnx'), /--speedup/);
});

test('inspect-onnx shows the model, layers with conv groups, MACs, params and pruning groups', async () => {
  const f = join(FIX, 'mobilenetv2_tiny_op17.onnx');
  const { out, lines } = await run('inspect-onnx', f);
  assert.match(lines[0], new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: graph 'torch_jit' from pytorch 1\\.13\\.0, IR version 8, opset 17; input 'input' \\[2, 3, 32, 32\\] → output 'logits' \\[2, 10\\]$`));
  assert.match(out, /ONNX ops: Add×3, BatchNormalization×16, Clip×11, Constant×22, Conv×16, Flatten×1, Gemm×1, GlobalAveragePool×1/);
  assert.match(out, /torch_jit: 0\.73 M MACs, 0\.03 M params, 49 IR nodes, \d+ pruning groups/);
  assert.match(out, /^ {2}features\.1\.conv\.0\.0 +conv2d +8×16×16 +8 +0\.02 M +72$/m); // depthwise: groups 8
  assert.match(out, /pruning groups \(coupled channels; the classifier is kept\):/);
  assert.match(out, /^ {2}features\.0\.0 +\d+ channels +\d+ layers: features\.0\.0, features\.0\.1/m);
  const j = JSON.parse((await run('--json', 'inspect-onnx', f)).out) as { macs: number; params: number; layers: { name: string; groups?: number }[]; groups: unknown[]; info: { opset: number } };
  assert.equal(j.info.opset, 17);
  assert.equal(j.macs, countOps(loadOnnx(f).graph).macs);
  assert.equal(j.layers.find((l) => l.name === 'features.1.conv.0.0')!.groups, 8);
  assert.ok(j.groups.length > 0);
});

test('prune-onnx without data: prunes by magnitude and says so, prints MACs/params one-liners and latency, writes a loadable model', async () => {
  const out = join(dir, 'resnet-pruned.onnx');
  const { out: text, lines } = await run('prune-onnx', join(FIX, 'resnet_tiny_op13.onnx'), '--speedup', '2', '--out', out, '--runs', '3', '--latency-batch', '1', '--latency-batch', '4');
  assert.match(text, /no --data given: pruning by weight magnitude \(l2 norm\) only; accuracy is not measured, finetune the pruned model to recover it/);
  const macs = lines.find((l) => l.startsWith('MACs: '))!;
  const m = /^MACs: 2\.74 M => (\d+\.\d+) M \((\d+\.\d+)x, target 2x\)$/.exec(macs);
  assert.ok(m !== null, macs);
  assert.ok(Number(m[2]) >= 2);
  assert.match(text, /^Params: 0\.03 M => 0\.01 M \(\d+\.\d+%\)$/m);
  if (ort !== null) assert.match(text, /^latency \(onnxruntime 1\.\d+\.\d+, median of 3 runs\): batch 1: [\d.]+ ms => [\d.]+ ms \([\d.]+x\); batch 4: [\d.]+ ms => [\d.]+ ms \([\d.]+x\); MACs speed-up \d\.\d\dx$/m);
  else assert.match(text, /^latency: not measured: onnxruntime-node is not available/m);
  assert.equal(lines[lines.length - 1], `wrote ${out}`);
  // the report next to the model: per-layer widths, MACs/params, latency vs MACs speed-up when measured
  const report = readFileSync(join(dir, 'resnet-pruned.report.html'), 'utf8');
  assert.equal(lines[lines.length - 2], `report ${join(dir, 'resnet-pruned.report.html')}`);
  assert.match(report, /<svg [^>]*aria-label="Output channels before \/ after pruning"/);
  assert.match(report, /<td>MACs<\/td><td class="num">2,7\d\d,\d{3}<\/td>/);
  if (ort !== null) assert.match(report, /aria-label="onnxruntime 1\.\d+\.\d+: speed-up per batch size"/);
  const pruned = loadOnnx(out);
  assert.ok(countOps(loadOnnx(join(FIX, 'resnet_tiny_op13.onnx')).graph).macs / countOps(pruned.graph).macs >= 2);
  assert.equal(pruned.info.opset, 13);
  assert.equal(pruned.info.inputShape[0], 'N');
});

test('prune-onnx --json, --no-latency, --batch 1 --opset 17 and the default output path', async () => {
  const src = join(dir, 'mix.onnx');
  const g = buildModel('concatnet');
  writeFileSync(src, exportOnnx(g, initParams(g, 1)));
  const r = JSON.parse((await run('--json', 'prune-onnx', src, '--speedup', '1.5', '--no-latency', '--batch', '1', '--opset', '17')).out) as {
    out: string; speedup: number; macsBefore: number; macsAfter: number; latency: unknown; latencyNote: string; importance: string;
  };
  assert.equal(r.out, join(dir, 'mix-pruned.onnx'));
  assert.ok(r.speedup >= 1.5);
  assert.equal(r.latency, null);
  assert.equal(r.latencyNote, 'skipped (--no-latency)');
  const m = loadOnnx(r.out);
  assert.equal(m.info.opset, 17);
  assert.equal(m.info.inputShape[0], 1);
  assert.equal(countOps(m.graph).macs, r.macsAfter);
});

test('prune-onnx with --data measures accuracy before and after', async () => {
  const src = join(dir, 'smallcnn.onnx');
  const g = buildModel('smallcnn');
  writeFileSync(src, exportOnnx(g, initParams(g, 2)));
  const { out } = await run('prune-onnx', src, '--speedup', '2', '--data', 'fashion-mnist-14', '--no-latency', '--iterative-steps', '50');
  assert.doesNotMatch(out, /no --data given/);
  assert.match(out, /^accuracy: \d+\.\d\d% before, \d+\.\d\d% after pruning$/m);
});

test('prune-onnx errors: bad flags are usage errors, bad files name the file', async () => {
  const f = join(FIX, 'resnet_tiny_op13.onnx');
  await assert.rejects(run('prune-onnx', f, '--speedup', '1'), (e: Error) => e instanceof UsageError && /--speedup expected a finite number > 1 and ≤ 1000, got 1/.test(e.message));
  await assert.rejects(run('prune-onnx', f, '--finetune-epochs', '1'), (e: Error) => e instanceof UsageError && /--finetune-epochs needs --data/.test(e.message));
  await assert.rejects(run('prune-onnx', f, '--importance', 'taylor'), /--importance expected one of l2, l1, bn-scale, random, got "taylor"/);
  await assert.rejects(run('prune-onnx', f, '--batch', '-3'), /--batch '-3': a positive size or a symbolic name/);
  const bad = join(dir, 'bad.onnx');
  writeFileSync(bad, 'not a model');
  await assert.rejects(run('inspect-onnx', bad), (e: Error) => e instanceof OnnxError && e.message.startsWith(`${bad}: not a valid ONNX model`));
  await assert.rejects(run('prune-onnx', join(dir, 'missing.onnx')), /missing\.onnx: not found/);
  const c = join(FIX, 'mixnet_op13.onnx');
  await assert.rejects(run('prune-onnx', c, '--data', 'fashion-mnist-14', '--no-latency'), /--data fashion-mnist-14: images are \[1, 14, 14\], the model takes \[3, 32, 32\]/);
});
