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
