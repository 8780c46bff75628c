/** Metanetwork checkpoints: save/load round trip (config, φ, metadata, optimizer buffers) and errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { buildModel } from '../../src/models/index.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Metanet, loadMetanet, metanetCheckpointExists, saveMetanet } from '../../src/meta/metanet.js';
import { randomParams } from '../graph/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'metaprune-gnn-io-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('save/load round trip: same config, bit-identical φ, same generated network', () => {
  const m = new Metanet({ layers: 3, hidden: 12, eps: 0.02, seed: 9 });
  // perturb φ so the file is not just the seed's init
  for (const t of Object.values(m.params)) for (let i = 0; i < t.size; i++) t.data[i] += 1e-3 * Math.sin(i);
  const path = join(dir, 'm1');
  assert.equal(metanetCheckpointExists(path), false);
  const opt = { step: 17, buffers: { 'nodeEnc.weight.m': new Float32Array([1, 2, 3]), 'nodeEnc.weight.v': new Float32Array([4, 5]) } };
  saveMetanet(path, m, { epoch: 4, reg: 2.5 }, opt);
  assert.equal(metanetCheckpointExists(path), true);
  const json = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as { meta: { config: unknown } };
  assert.deepEqual(json.meta.config, m.config, 'the config is stored in the metadata');
  const l = loadMetanet(path);
  assert.deepEqual(l.metanet.config, m.config);
  assert.deepEqual(l.meta, { epoch: 4, reg: 2.5 });
  assert.deepEqual(Object.keys(l.metanet.params), Object.keys(m.params));
  for (const k of Object.keys(m.params)) {
    assert.deepEqual(l.metanet.params[k].shape, m.params[k].shape);
    assert.deepEqual(l.metanet.params[k].toArray(), m.params[k].toArray(), k);
  }
  assert.equal(l.optimizer!.step, 17);
  assert.deepEqual(Array.from(l.optimizer!.buffers['nodeEnc.weight.m']), [1, 2, 3]);
  assert.deepEqual(Array.from(l.optimizer!.buffers['nodeEnc.weight.v']), [4, 5]);
  const g = buildModel('smallcnn', { width: 0.5 });
  const p = randomParams(g, 3);
  const a = noGrad(() => m.apply(g, p));
  const b = noGrad(() => l.metanet.apply(g, p));
  for (const k of Object.keys(a)) assert.deepEqual(b[k].toArray(), a[k].toArray(), k);
  // without optimizer state
  saveMetanet(join(dir, 'm2'), m);
  assert.equal(loadMetanet(join(dir, 'm2')).optimizer, null);
});

test('a float64 metanetwork loads back as float64 (values rounded to float32 once)', () => {
  const m = new Metanet({ layers: 1, hidden: 4, seed: 1, dtype: 'float64' });
  saveMetanet(join(dir, 'm64'), m);
  const l = loadMetanet(join(dir, 'm64')).metanet;
  assert.equal(l.config.dtype, 'float64');
  for (const k of Object.keys(m.params)) {
    assert.equal(l.params[k].dtype, 'float64');
    l.params[k].toArray().forEach((v, i) => assert.equal(v, Math.fround(m.params[k].data[i])));
  }
});

test('load errors name the file and the problem', () => {
  const m = new Metanet({ layers: 2, hidden: 8 });
  const path = join(dir, 'bad');
  saveMetanet(path, m);
  const json = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as { meta: { config: { hidden: number } } };
  json.meta.config.hidden = 16;
  writeFileSync(`${path}.json`, JSON.stringify(json));
  assert.throws(() => loadMetanet(path), /bad\.json: parameter 'nodeEnc\.weight' has shape \[8, 9\].*needs \[16, 9\]/);
  assert.throws(() => loadMetanet(join(dir, 'missing')), /missing\.json: not found/);
});
