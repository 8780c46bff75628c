// torchvision-style state dicts (.safetensors written here; .npz saved by Debian's python3-torch when present).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import '../../src/tensor/backends/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { buildModel } from '../../src/models/index.js';
import { torchvisionNames } from '../../src/models/torchvision-names.js';
import { paramShapes } from '../../src/ir/graph.js';
import { forward } from '../../src/ir/forward.js';
import { encodeSafetensors, parseSafetensors } from '../../src/io/safetensors.js';
import { encodeNpz, parseNpz, parseNpy, encodeNpy } from '../../src/io/npy.js';
import { paramsFromStateDict, readStateDict, StateDictError } from '../../src/io/state-dict.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-sd-'));

function torchvisionTensors(name: string) {
  const graph = buildModel(name, { numClasses: 10, inputShape: [3, 32, 32] });
  // A cheap deterministic fill (initParams on 11M weights would cost seconds).
  const params: Record<string, Tensor> = {};
  let k = 0;
  for (const n of graph.nodes) {
    for (const [p, shape] of Object.entries(paramShapes(n))) {
      const t = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
      for (let i = 0; i < t.size; i++) t.data[i] = ((i * 40503 + ++k) % 1000) / 1000 - 0.5;
      params[p] = t;
    }
  }
  const names = torchvisionNames(graph);
  const tensors: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [k, t] of Object.entries(params)) tensors[names.get(k)!] = { data: t.data as Float32Array, shape: [...t.shape] };
  return { graph, params, names, tensors };
}

test('resnet18 weights round-trip bit-exactly through a .safetensors file', () => {
  const { graph, params, names, tensors } = torchvisionTensors('resnet18');
  const file = join(dir, 'r18.safetensors');
  writeFileSync(file, encodeSafetensors(tensors));
  const loaded = paramsFromStateDict(graph, readStateDict(file), file, names);
  assert.deepEqual(Object.keys(loaded).sort(), Object.keys(params).sort());
  for (const k of Object.keys(params)) assert.deepEqual(loaded[k]!.data, params[k]!.data, k);
});

test('missing, unexpected and wrong-shape keys are all listed', () => {
  const { graph, names, tensors } = torchvisionTensors('resnet18');
  delete tensors['layer1.0.conv1.weight'];
  tensors['head.weight'] = { data: new Float32Array(2), shape: [2] };
  tensors['fc.bias'] = { data: new Float32Array(7), shape: [7] };
  tensors['bn1.num_batches_tracked'] = { data: new Float32Array(1), shape: [] };
  const sd = parseSafetensors(encodeSafetensors(tensors), 'w.safetensors');
  assert.throws(() => paramsFromStateDict(graph, sd, 'w.safetensors', names), (e: unknown) => {
    assert.ok(e instanceof StateDictError);
    assert.deepEqual(e.missing, ['layer1.0.conv1.weight']);
    assert.deepEqual(e.unexpected, ['head.weight']);
    assert.deepEqual(e.wrongShape, ['fc.bias [7] (expected [10])']);
    assert.match(e.message, /^w\.safetensors: state dict does not fit the model/);
    return true;
  });
});

test('npy/npz round trip, a truncated .npy and an unknown weights format', () => {
  const a = parseNpy(encodeNpy(new Float64Array([1.5, -2]), [2]));
  assert.deepEqual([...a.data], [1.5, -2]);
  const z = parseNpz(encodeNpz({ x: { data: new Uint8Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] } }));
  assert.deepEqual(z.get('x')!.shape, [2, 3]);
  assert.deepEqual([...z.get('x')!.data], [1, 2, 3, 4, 5, 6]);
  const bytes = encodeNpy(new Int32Array([1, 2, 3]), [3]);
  assert.throws(() => parseNpy(bytes.subarray(0, bytes.length - 2), 'cut.npy'), /cut\.npy: truncated data: expected 12 bytes/);
  assert.throws(() => readStateDict(join(dir, 'w.pt')), /unknown weights format '\.pt': expected \.safetensors or \.npz/);
});

const PY = '/usr/bin/python3';
function torchMissing(): string | undefined {
  const r = spawnSync(PY, ['-c', 'import torch, torchvision, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `needs ${PY} with torch + torchvision + numpy (${(r.stderr ?? String(r.error)).trim().split('\n').pop()})`;
}

const SCRIPT = `
import sys, torch, torchvision, numpy as np
torch.manual_seed(0)
for name in sys.argv[2:]:
    m = getattr(torchvision.models, name)(num_classes=10)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
    m.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad(): y = m(x)
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    sd['__input'] = x.numpy(); sd['__output'] = y.numpy()
    np.savez_compressed(f'{sys.argv[1]}/{name}.npz', **sd)
`;

let saved: string | undefined;
/** Runs Python once for both models; returns its error output ('' on success). */
function saveTorchStateDicts(): string {
  if (saved === undefined) {
    const r = spawnSync(PY, ['-c', SCRIPT, dir, 'resnet18', 'mobilenet_v2'], { encoding: 'utf8' });
    saved = r.status === 0 ? '' : r.stderr;
  }
  return saved;
}

for (const [tv, ours] of [['resnet18', 'resnet18'], ['mobilenet_v2', 'mobilenetv2']] as const) {
  test(`${ours}: a state dict saved by PyTorch as .npz gives PyTorch's outputs within 1e-4`, (t) => {
    const why = torchMissing();
    if (why !== undefined) return t.skip(why);
    assert.equal(saveTorchStateDicts(), '');
    const file = join(dir, `${tv}.npz`);
    const sd = parseNpz(readFileSync(file), file);
    const x = sd.get('__input')!;
    const y = sd.get('__output')!;
    sd.delete('__input');
    sd.delete('__output');
    const graph = buildModel(ours, { numClasses: 10, inputShape: [3, 32, 32] });
    const params = paramsFromStateDict(graph, sd, file, torchvisionNames(graph));
    const out = forward(graph, params, new Tensor(Float32Array.from(x.data), x.shape));
    let worst = 0;
    for (let i = 0; i < y.data.length; i++) worst = Math.max(worst, Math.abs(out.data[i]! - y.data[i]!) / Math.max(1, Math.abs(y.data[i]!)));
    assert.ok(worst < 1e-4, `worst relative difference ${worst}`);
  });
}
