import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { saveCheckpoint, loadCheckpoint } from '../../src/io/checkpoint.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-ckpt-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const graph = buildModel('resnet20');
const params = initParams(graph, 3, 'kaiming-fan-out');

test('checkpoint round trip is bit-exact and keeps metadata', () => {
  const p = join(dir, 'a');
  saveCheckpoint(p, { graph, params, metadata: { acc: 0.5 }, training: { epoch: 3 } });
  const c = loadCheckpoint(p);
  assert.deepEqual(c.graph, graph);
  assert.equal(c.metadata.acc, 0.5);
  assert.equal(c.training?.epoch, 3);
  for (const k of Object.keys(params)) assert.deepEqual(c.params[k].data, params[k].data, k);
});

test('truncated .bin, bad JSON, unknown op, version mismatch and wrong shapes are named', () => {
  const p = join(dir, 'b');
  saveCheckpoint(p, { graph, params, metadata: {} });
  const json = readFileSync(`${p}.json`, 'utf8');
  truncateSync(`${p}.bin`, 100);
  assert.throws(() => loadCheckpoint(p), (e: Error) => e.message.includes(`${p}.bin`) && /expected \d+ bytes of float32 data, found 100 \(truncated\)/.test(e.message));
  saveCheckpoint(p, { graph, params, metadata: {} });
  writeFileSync(`${p}.json`, json.slice(0, 50));
  assert.throws(() => loadCheckpoint(p), (e: Error) => e.message.startsWith(`${p}.json: not valid JSON`));
  writeFileSync(`${p}.json`, json.replace('"op": "gap"', '"op": "frobnicate"'));
  assert.throws(() => loadCheckpoint(p), /node 'avgpool' has unknown op 'frobnicate'/);
  writeFileSync(`${p}.json`, json.replace('"version": 1', '"version": 99'));
  assert.throws(() => loadCheckpoint(p), /version 99 is not supported/);
  writeFileSync(`${p}.json`, json.replace('"outChannels": 16,', '"outChannels": 17,'));
  assert.throws(() => loadCheckpoint(p), /invalid model graph: node 'bn1' \(batchnorm\): expects 16 input channels, got shape \[17, 32, 32\]/);
});

test('a .json paired with another checkpoint\'s .bin of the same size is refused, naming both files', () => {
  const a = join(dir, 'pair-a'), b = join(dir, 'pair-b');
  saveCheckpoint(a, { graph, params, metadata: {} });
  saveCheckpoint(b, { graph, params: initParams(graph, 4, 'kaiming-fan-out'), metadata: {} });
  writeFileSync(`${a}.bin`, readFileSync(`${b}.bin`));
  assert.throws(() => loadCheckpoint(a), (e: Error) => e.message.includes(`${a}.bin`) && e.message.includes(`${a}.json`) && /sha256/.test(e.message));
  // flipped bytes inside the .bin (e.g. NaN bytes) are caught the same way
  saveCheckpoint(a, { graph, params, metadata: {} });
  const bin = readFileSync(`${a}.bin`);
  bin.writeFloatLE(Number.NaN, 16);
  writeFileSync(`${a}.bin`, bin);
  assert.throws(() => loadCheckpoint(a), /sha256/);
});

test('non-finite weights are refused naming the tensor and file, unless allowed', () => {
  const p = join(dir, 'nan');
  const bad = { ...params, 'conv1.weight': params['conv1.weight'].clone() };
  (bad['conv1.weight'].data as Float32Array)[5] = Number.NaN;
  saveCheckpoint(p, { graph, params: bad, metadata: {} });
  assert.throws(() => loadCheckpoint(p), (e: Error) => e.message.startsWith(`${p}.bin`) && /tensor 'param:conv1\.weight' holds NaN at element 5/.test(e.message) && /--allow-nonfinite/.test(e.message));
  assert.ok(Number.isNaN(loadCheckpoint(p, { allowNonFinite: true }).params['conv1.weight'].data[5]));
});
