/**
 * The metanetwork GNN: exact architecture (parameter counts of the reference configs, a scalar-loop
 * re-implementation of method §2 as an oracle), permutation equivariance, near-identity at
 * initialization, pass-through of identity edges and running statistics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { buildModel } from '../../src/models/index.js';
import { forward } from '../../src/ir/forward.js';
import type { ModelGraph, Params } from '../../src/ir/graph.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, allocBuf, randn, type DType } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { edgeMask, nodeMask, toGraph } from '../../src/graph/index.js';
import { DECODER_INIT_SCALE, edgeInverter, gnnForward, gnnParamCount, initGnnParams, type GnnConfig, type GnnParams } from '../../src/meta/gnn.js';
import { Metanet } from '../../src/meta/metanet.js';
import { randomParams } from '../graph/helpers.js';

test('parameter counts equal the reference configs (method §2 table, "params used")', () => {
  // ResNet-56 task: L = 8, H = 64, node dim 8, edge dim 9 → 275,345; VGG-19 task: L = 8, H = 32, node dim 5 → 69,902.
  assert.equal(gnnParamCount({ layers: 8, hidden: 64, nodeDim: 8, edgeDim: 9 }), 275345);
  assert.equal(gnnParamCount({ layers: 8, hidden: 32, nodeDim: 5, edgeDim: 9 }), 69902);
  const m = new Metanet({ layers: 4, hidden: 32 });
  assert.equal(m.numParams(), Object.values(m.params).reduce((p, t) => p + t.size, 0));
});

test('initialization: PyTorch U(±1/√fan_in), decoder output layers × 0.1, deterministic per seed', () => {
  const cfg: GnnConfig = { layers: 2, hidden: 16, eps: 0.03, seed: 3, nodeDim: 9, edgeDim: 9, dtype: 'float32' };
  const p = initGnnParams(cfg);
  const maxAbs = (t: Tensor) => t.toArray().reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const check = (name: string, fanIn: number, s: number) => {
    for (const role of ['weight', 'bias']) {
      const m = maxAbs(p[`${name}.${role}`]);
      assert.ok(m <= (s / Math.sqrt(fanIn)) * (1 + 1e-6), `${name}.${role}: max |v| ${m} > ${s}/√${fanIn}`);
      assert.ok(m > (0.8 * s) / Math.sqrt(fanIn), `${name}.${role}: max |v| ${m} suspiciously small`);
    }
  };
  check('nodeEnc', 9, 1);
  check('convs.1.lin3', 16, 1);
  check('convs.0.downlin', 64, 1);
  check('nodeDec.lin1', 16, 1);
  check('nodeDec.lin2', 16, DECODER_INIT_SCALE);
  check('edgeDec.lin2', 16, DECODER_INIT_SCALE);
  const q = initGnnParams(cfg);
  for (const k of Object.keys(p)) assert.deepEqual(p[k].toArray(), q[k].toArray());
  const r = initGnnParams({ ...cfg, seed: 4 });
  assert.notDeepEqual(p['nodeEnc.weight'].toArray(), r['nodeEnc.weight'].toArray());
  assert.deepEqual(edgeInverter(5).toArray(), [1, 1, -1, -1, -1]);
});

// ------------------------------------------------------------------ scalar-loop oracle of method §2

type Vec = number[];

function oracle(phi: GnnParams, cfg: GnnConfig, x: Vec[], e0: Vec[], src0: Int32Array, dst0: Int32Array, nm: Vec[] | null, em: Vec[] | null): { nodes: Vec[]; edges: Vec[] } {
  const W = (name: string) => phi[`${name}.weight`];
  const lin = (name: string, v: Vec): Vec => {
    const w = W(name), b = phi[`${name}.bias`];
    const [o, i] = w.shape;
    const out: Vec = [];
    for (let r = 0; r < o; r++) {
      let s = b.data[r];
      for (let c = 0; c < i; c++) s += w.data[r * i + c] * v[c];
      out.push(s);
    }
    return out;
  };
  const silu = (v: Vec) => v.map((t) => t / (1 + Math.exp(-t)));
  const ln = (v: Vec) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const va = v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
    return v.map((t) => (t - m) / Math.sqrt(va + 1e-5));
  };
  const H = cfg.hidden;
  const N = x.length, E = e0.length;
  const s = [...Array(H).keys()].map((k) => (k < Math.floor(H / 2) ? 1 : -1));
  let h = x.map((v) => lin('nodeEnc', v));
  let e = e0.map((v) => lin('edgeEnc', v));
  // PyG: edge_index[0] = source j, edge_index[1] = target i; messages aggregate at the target.
  const conv = (l: number, hn: Vec[], ei0: Int32Array, ei1: Int32Array, ee: Vec[]) => {
    const p = `convs.${l}`;
    const a = hn.map((v) => silu(lin(`${p}.lin1`, v)));
    const z = hn.map((v) => silu(lin(`${p}.lin2`, v)));
    const l3 = hn.map((v) => silu(lin(`${p}.lin3`, v)));
    const l4 = hn.map((v) => silu(lin(`${p}.lin4`, v)));
    const msgs: Vec[][] = [...Array(N)].map(() => []);
    for (let k = 0; k < E; k++) {
      const j = ei0[k], i = ei1[k];
      msgs[i].push(ee[k].map((t, c) => z[i][c] * a[j][c] * t));
    }
    const n = msgs.map((ms) => {
      const mean: Vec = [], std: Vec = [], mx: Vec = [], mn: Vec = [];
      for (let c = 0; c < H; c++) {
        if (ms.length === 0) {
          mean.push(0); std.push(0); mx.push(0); mn.push(0);
          continue;
        }
        const col = ms.map((m) => m[c]);
        const mu = col.reduce((u, v) => u + v, 0) / col.length;
        const mu2 = col.reduce((u, v) => u + v * v, 0) / col.length;
        let sd = Math.sqrt(Math.max(mu2 - mu * mu, 1e-5));
        if (sd <= Math.sqrt(1e-5)) sd = 0;
        mean.push(mu); std.push(sd); mx.push(Math.max(...col)); mn.push(Math.min(...col));
      }
      return lin(`${p}.downlin`, [...mean, ...std, ...mx, ...mn]);
    });
    const eNew = ee.map((v, k) => v.map((t, c) => l3[ei0[k]][c] * l4[ei1[k]][c] * t));
    return { n, e: eNew };
  };
  for (let l = 0; l < cfg.layers; l++) {
    const hn = h.map(ln);
    const r1 = conv(l, hn, src0, dst0, e);
    const es = e.map((v) => v.map((t, c) => t * s[c]));
    const r2 = conv(l, hn, dst0, src0, es);
    h = h.map((v, i) => v.map((t, c) => t + r1.n[i][c] + r2.n[i][c]));
    e = e.map((v, k) => v.map((t, c) => t + r1.e[k][c] + s[c] * r2.e[k][c]));
  }
  const dec = (pfx: string, v: Vec) => lin(`${pfx}.lin2`, silu(lin(`${pfx}.lin1`, ln(v))));
  return {
    nodes: x.map((v, i) => { const d = dec('nodeDec', h[i]); return v.map((t, c) => t + cfg.eps * (nm ? nm[i][c] : 1) * d[c]); }),
    edges: e0.map((v, k) => { const d = dec('edgeDec', e[k]); return v.map((t, c) => t + cfg.eps * (em ? em[k][c] : 1) * d[c]); }),
  };
}

const rows = (t: Tensor): Vec[] => [...Array(t.shape[0]).keys()].map((r) => Array.from(t.data.subarray(r * t.shape[1], (r + 1) * t.shape[1])));

test('gnnForward equals a scalar-loop implementation of method §2 (random graph with isolated nodes, float64)', () => {
  const rng = new Rng(11);
  const cfg: GnnConfig = { layers: 2, hidden: 6, eps: 0.7, seed: 5, nodeDim: 9, edgeDim: 9, dtype: 'float64' };
  const phi = initGnnParams(cfg);
  // A bigger eps and unscaled decoders would hide nothing; scale the decoders up so they matter.
  for (const k of ['nodeDec.lin2.weight', 'edgeDec.lin2.weight']) for (let i = 0; i < phi[k].size; i++) phi[k].data[i] *= 10;
  const N = 9, E = 23;
  const src = new Int32Array(E), dst = new Int32Array(E);
  for (let k = 0; k < E; k++) {
    src[k] = rng.int(N - 2); // nodes N-2 and N-1 never send
    dst[k] = 1 + rng.int(N - 3); // node 0 and N-1 never receive; node N-1 is isolated
  }
  const x = randn([N, 9], rng, 1, 'float64');
  const e0 = randn([E, 9], rng, 1, 'float64');
  const mask = (n: number) => {
    const b = allocBuf('float64', n * 9);
    for (let i = 0; i < b.length; i++) b[i] = rng.next() < 0.6 ? 1 : 0;
    return new Tensor(b, [n, 9]);
  };
  const nm = mask(N), em = mask(E);
  for (const masked of [false, true]) {
    const got = gnnForward(phi, cfg, { nodeFeatures: x, edgeFeatures: e0, edgeOut: src, edgeIn: dst, nodeMask: masked ? nm : null, edgeMask: masked ? em : null });
    const want = oracle(phi, cfg, rows(x), rows(e0), src, dst, masked ? rows(nm) : null, masked ? rows(em) : null);
    const cmp = (a: Vec[], b: Vec[], what: string) => {
      let worst = 0;
      a.forEach((r, i) => r.forEach((v, c) => { worst = Math.max(worst, Math.abs(v - b[i][c])); }));
      assert.ok(worst < 1e-12, `${what}: max |Δ| = ${worst}`);
    };
    cmp(rows(got.nodeFeatures), want.nodes, `nodes (masked=${masked})`);
    cmp(rows(got.edgeFeatures), want.edges, `edges (masked=${masked})`);
    // and the outputs really moved (the test is not vacuous)
    const moved = rows(got.edgeFeatures).flat().some((v, i) => Math.abs(v - e0.data[i]) > 1e-3);
    assert.ok(moved, 'the GNN output equals its input');
  }
});

// ------------------------------------------------------------------ equivariance and near-identity

function permuteAxis(t: Tensor, axis: number, perm: number[]): Tensor {
  const shape = t.shape;
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  const n = shape[axis];
  const out = allocBuf(t.dtype, t.size);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < inner; k++) out[(o * n + j) * inner + k] = t.data[(o * n + perm[j]) * inner + k];
    }
  }
  return new Tensor(out, shape);
}

/** θ with the channels of `conv` permuted: its rows (and bias), its BN's vectors, the in-slices of `next`. */
function permuteLayer(p: Params, conv: string, bn: string, next: string, perm: number[]): Params {
  const q: Params = { ...p };
  q[`${conv}.weight`] = permuteAxis(p[`${conv}.weight`], 0, perm);
  if (p[`${conv}.bias`]) q[`${conv}.bias`] = permuteAxis(p[`${conv}.bias`], 0, perm);
  for (const k of ['weight', 'bias', 'running_mean', 'running_var']) q[`${bn}.${k}`] = permuteAxis(p[`${bn}.${k}`], 0, perm);
  q[`${next}.weight`] = permuteAxis(p[`${next}.weight`], 1, perm);
  return q;
}

const permuteConv2 = (p: Params, perm: number[]) => permuteLayer(p, 'conv2', 'bn2', 'conv3', perm);

function maxRelDiff(a: Tensor, b: Tensor): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.size; i++) {
    num = Math.max(num, Math.abs(a.data[i] - b.data[i]));
    den = Math.max(den, Math.abs(b.data[i]));
  }
  return num / Math.max(den, 1e-30);
}

test('permutation equivariance: permuting the channels of one layer permutes the generated network', () => {
  const g = buildModel('smallcnn');
  const p = randomParams(g, 21, 'float64');
  const rng = new Rng(22);
  const perm = [...Array(32).keys()];
  rng.shuffle(perm);
  const pp = permuteConv2(p, perm);
  const x = randn([4, 1, 14, 14], rng, 1, 'float64');
  // the permuted network computes the same function
  const y = forward(g, p, x), yp = forward(g, pp, x);
  assert.ok(maxRelDiff(yp, y) < 1e-12, 'permuted network differs');
  const m = new Metanet({ layers: 2, hidden: 8, eps: 0.5, seed: 1, dtype: 'float64' });
  const a = noGrad(() => m.apply(g, p));
  const b = noGrad(() => m.apply(g, pp));
  const ap = permuteConv2(a, perm);
  for (const k of Object.keys(p)) {
    assert.ok(maxRelDiff(b[k], ap[k]) < 1e-10, `'${k}': M(πθ) ≠ π M(θ) (rel ${maxRelDiff(b[k], ap[k])})`);
  }
  // the generated networks compute the same function too, and differ from the original
  assert.ok(maxRelDiff(forward(g, b, x), forward(g, a, x)) < 1e-10, 'the permuted generated network computes a different function');
  assert.ok(maxRelDiff(a['conv2.weight'], p['conv2.weight']) > 1e-4, 'the metanetwork changed nothing');
});

test('permutation equivariance inside a residual block (ResNet-20 layer2.1: conv1 → bn1 → conv2)', () => {
  const g = buildModel('resnet20');
  const p = randomParams(g, 23, 'float64');
  const rng = new Rng(24);
  const perm = [...Array(32).keys()];
  rng.shuffle(perm);
  const P = (q: Params) => permuteLayer(q, 'layer2.1.conv1', 'layer2.1.bn1', 'layer2.1.conv2', perm);
  const x = randn([2, 3, 8, 8], rng, 1, 'float64');
  assert.ok(maxRelDiff(forward(g, P(p), x), forward(g, p, x)) < 1e-12, 'permuted network differs');
  const m = new Metanet({ layers: 2, hidden: 8, eps: 0.5, seed: 3, dtype: 'float64' });
  const a = P(noGrad(() => m.apply(g, p)));
  const b = noGrad(() => m.apply(g, P(p)));
  for (const k of Object.keys(p)) assert.ok(maxRelDiff(b[k], a[k]) < 1e-10, `'${k}': M(πθ) ≠ π M(θ) (rel ${maxRelDiff(b[k], a[k])})`);
});

function initClose(name: string, dtype: DType, seed: number): number {
  const g: ModelGraph = buildModel(name);
  const p = randomParams(g, seed, dtype);
  const rng = new Rng(seed + 1);
  const x = randn([16, ...(g.nodes[0].op === 'input' ? g.nodes[0].shape : [])], rng, 1, dtype);
  const m = new Metanet({ layers: 4, hidden: 32, eps: 0.03, seed });
  const q = noGrad(() => m.apply(g, p));
  const y = forward(g, p, x), yq = forward(g, q, x);
  let num = 0, den = 0;
  for (let i = 0; i < y.size; i++) {
    num += (yq.data[i] - y.data[i]) ** 2;
    den += y.data[i] ** 2;
  }
  return Math.sqrt(num / den);
}

test('at initialization the generated network is close to the original (logits rel. diff < 5%)', () => {
  const r = initClose('smallcnn', 'float32', 31);
  assert.ok(r < 0.05, `smallcnn: relative logit difference ${r}`);
  assert.ok(r > 1e-5, `smallcnn: the metanetwork should perturb a little, got ${r}`);
  const r2 = initClose('smallcnn-res', 'float32', 32);
  assert.ok(r2 < 0.05, `smallcnn-res: relative logit difference ${r2}`);
});

test('identity edges, 1×1 padding and BN running statistics pass through unchanged', () => {
  const g = buildModel('resnet20');
  const p = randomParams(g, 41);
  const ng = toGraph(g, p);
  const m = new Metanet({ layers: 2, hidden: 8, eps: 0.5, seed: 2 });
  const out = noGrad(() => m.transform(ng));
  const nm = nodeMask(ng), em = edgeMask(ng);
  let changedN = 0, changedE = 0;
  for (let i = 0; i < nm.size; i++) {
    if (nm.data[i] === 0) assert.equal(out.nodeFeatures.data[i], ng.nodeFeatures.data[i]);
    else if (out.nodeFeatures.data[i] !== ng.nodeFeatures.data[i]) changedN++;
  }
  for (let i = 0; i < em.size; i++) {
    if (em.data[i] === 0) assert.equal(out.edgeFeatures.data[i], ng.edgeFeatures.data[i]);
    else if (out.edgeFeatures.data[i] !== ng.edgeFeatures.data[i]) changedE++;
  }
  assert.ok(changedN > 0.99 * nm.toArray().filter((v) => v === 1).length, `only ${changedN} node slots changed`);
  assert.ok(changedE > 0.99 * em.toArray().filter((v) => v === 1).length, `only ${changedE} edge entries changed`);
  const q = noGrad(() => m.apply(g, p));
  for (const k of Object.keys(p)) {
    if (k.endsWith('running_mean') || k.endsWith('running_var')) assert.deepEqual(q[k].toArray(), p[k].toArray());
  }
  assert.equal(out.edgeIndex, ng.edgeIndex);
});
