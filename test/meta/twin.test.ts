/**
 * The PyTorch twin (tools/metanet_twin.py) is a twin: for the same φ and the same neural graph it
 * gives the same node'/edge' features and the same gradient of <cot, outputs> into φ as gnn.ts.
 * Skips (with a message) when /usr/bin/python3 has no torch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { buildModel, modelEntry } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { toGraph } from '../../src/graph/convert.js';
import { backward } from '../../src/tensor/autograd.js';
import { Metanet } from '../../src/meta/metanet.js';
import { Rng } from '../../src/tensor/random.js';
import { exportTwinCase } from '../../bench/twin-export.js';

const PYTHON = '/usr/bin/python3';
const TWIN = join(process.cwd(), 'tools', 'metanet_twin.py');
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { timeout: 600000 }).status === 0;

test('PyTorch twin: same metanetwork outputs and φ-gradients as gnn.ts (smallcnn-res graph)', { skip: hasTorch ? false : `${PYTHON} cannot import torch` }, () => {
  const name = 'smallcnn-res'; // conv 3×3, identity shortcuts, linear: every edge kind
  const g = buildModel(name);
  const theta = initParams(g, 1, modelEntry(name).init);
  // ε = 1 and decoders at full scale, so the GNN's contribution is not hidden under the residual
  const metanet = new Metanet({ layers: 2, hidden: 16, eps: 1, seed: 3 });
  const rng = new Rng(5);
  for (const k of ['nodeDec.lin2.weight', 'edgeDec.lin2.weight']) {
    const d = metanet.params[k].data;
    for (let i = 0; i < d.length; i++) d[i] = rng.uniform(-0.25, 0.25);
  }
  const dir = mkdtempSync(join(tmpdir(), 'metaprune-twin-'));
  try {
    const phi = Object.fromEntries(Object.entries(metanet.params).map(([k, t]) => {
      const l = t.detach();
      l.requiresGrad = true;
      return [k, l];
    }));
    const out = metanet.transform(toGraph(g, theta), phi);
    const c = exportTwinCase(join(dir, 'case'), metanet, g, theta, metanet.apply(g, theta));
    const names = Object.keys(phi);
    const grads = backward([out.nodeFeatures, out.edgeFeatures], [c.cotNode.data, c.cotEdge.data], names.map((k) => phi[k]));
    const r = spawnSync(PYTHON, [TWIN, 'check', join(dir, 'case'), join(dir, 'out')], { encoding: 'utf8', timeout: 300000 });
    assert.equal(r.status, 0, r.stderr);
    const buf = readFileSync(join(dir, 'out.bin'));
    const theirs = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const ours = [out.nodeFeatures.data, out.edgeFeatures.data, ...grads];
    assert.equal(theirs.length, ours.reduce((s, a) => s + a.length, 0));
    let off = 0;
    const labels = ['node features', 'edge features', ...names.map((k) => `∂/∂${k}`)];
    ours.forEach((a, i) => {
      let scale = 0, diff = 0;
      for (let j = 0; j < a.length; j++) {
        scale = Math.max(scale, Math.abs(a[j]));
        diff = Math.max(diff, Math.abs(a[j] - theirs[off + j]));
      }
      off += a.length;
      assert.ok(scale > 0, `${labels[i]}: all zero`);
      // outputs O(1): absolute 1e-5; gradients: 1e-5 relative to the tensor's largest entry
      const tol = i < 2 ? 1e-5 : 1e-5 * Math.max(1, scale);
      assert.ok(diff <= tol, `${labels[i]}: max |ours − torch| = ${diff} > ${tol} (max |ours| ${scale})`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
