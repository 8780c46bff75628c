/**
 * The layout of the neural graph: edge convention and order, identity and projection shortcuts,
 * node-feature columns (BN, bias, shortcut BN, defaults), concat offsets, grouped convs, masks,
 * unsupported structures, and gradients through fromGraph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { buildModel } from '../../src/models/index.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { add, mul } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import {
  EDGE_CENTRE, IDENTITY_EDGE_FEATURE, NODE_CHANGEABLE_COLUMNS, NODE_COL, NODE_DEFAULTS,
  NeuralGraphError, edgeMask, fromGraph, nodeMask, toGraph, type GraphFeatures, type NeuralGraph,
} from '../../src/graph/index.js';
import type { Params } from '../../src/ir/graph.js';
import { randomParams } from './helpers.js';

const row = (t: Tensor, r: number): number[] => Array.from(t.data.subarray(r * t.shape[1], (r + 1) * t.shape[1]));
const block = (ng: NeuralGraph, name: string) => {
  const b = ng.edgeBlocks.find((x) => x.name === name);
  assert.ok(b, `edge block '${name}'`);
  return b;
};
const nodes = (ng: NeuralGraph, name: string) => {
  const b = ng.nodeBlocks.find((x) => x.name === name);
  assert.ok(b, `node block '${name}'`);
  return b;
};

test('edge (o, i): row 0 = out-channel node, row 1 = in-channel node, out-major in-minor = W.reshape(O, I, 9)', () => {
  const g = buildModel('smallcnn');
  const p = randomParams(g, 1);
  const ng = toGraph(g, p);
  assert.equal(ng.edgeIndex.length, 2 * ng.numEdges);
  assert.deepEqual(Array.from(ng.edgeOut), Array.from(ng.edgeIndex.subarray(0, ng.numEdges)));
  assert.deepEqual(Array.from(ng.edgeIn), Array.from(ng.edgeIndex.subarray(ng.numEdges)));
  const b = block(ng, 'conv2');
  const [O, I] = [32, 16];
  assert.deepEqual([b.outCount, b.inCount, b.numEdges, b.kind], [O, I, O * I, 'conv3x3']);
  const w = p['conv2.weight'].data;
  for (const [o, i] of [[0, 0], [0, 15], [7, 3], [31, 15]]) {
    const e = b.edgeOffset + o * I + i;
    assert.equal(ng.edgeOut[e], nodes(ng, 'conv2').offset + o);
    assert.equal(ng.edgeIn[e], nodes(ng, 'conv1').offset + i);
    assert.deepEqual(row(ng.edgeFeatures, e), Array.from(w.subarray((o * I + i) * 9, (o * I + i + 1) * 9)));
  }
  // blocks: input first, classes last; edges in layer order
  assert.deepEqual(ng.nodeBlocks.map((x) => [x.name, x.count]), [['input', 1], ['conv1', 16], ['conv2', 32], ['conv3', 32], ['conv4', 64], ['conv5', 64], ['fc', 10]]);
  assert.deepEqual(ng.edgeBlocks.map((x) => x.name), ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'fc']);
});

test('classifier: dense block, weight at the kernel centre, bias in node column 4 (not the BN-bias slot)', () => {
  const g = buildModel('resnet20', { numClasses: 7 });
  const p = randomParams(g, 2);
  const ng = toGraph(g, p);
  const b = block(ng, 'fc');
  assert.equal(b.kind, 'linear');
  const cls = nodes(ng, 'fc');
  assert.equal(cls.offset + cls.count, ng.numNodes, 'class nodes are the last block');
  const W = p['fc.weight'].data; // [7, 64]
  for (const [c, d] of [[0, 0], [6, 63], [3, 17]]) {
    const f = row(ng.edgeFeatures, b.edgeOffset + c * 64 + d);
    assert.deepEqual(f, [0, 0, 0, 0, W[c * 64 + d], 0, 0, 0, 0]);
  }
  for (let c = 0; c < 7; c++) {
    const expect = [...NODE_DEFAULTS];
    expect[NODE_COL.bias] = p['fc.bias'].data[c];
    assert.deepEqual(row(ng.nodeFeatures, cls.offset + c), expect);
  }
  // input nodes carry the identity-BN defaults
  for (let c = 0; c < 3; c++) assert.deepEqual(row(ng.nodeFeatures, c), [...NODE_DEFAULTS]);
});

test('identity shortcut: sparse diagonal edges (main node c ← input node c) with the centre-1 feature', () => {
  const g = buildModel('resnet20');
  const p = randomParams(g, 3);
  const ng = toGraph(g, p);
  const id = block(ng, 'layer1.1.add');
  assert.equal(id.kind, 'identity');
  assert.equal(id.numEdges, 16);
  const out = nodes(ng, 'layer1.1.conv2');
  const inn = nodes(ng, 'layer1.0.conv2'); // previous block output (an add identified with its conv2)
  for (let c = 0; c < 16; c++) {
    const e = id.edgeOffset + c;
    assert.equal(ng.edgeOut[e], out.offset + c);
    assert.equal(ng.edgeIn[e], inn.offset + c);
    assert.deepEqual(row(ng.edgeFeatures, e), [...IDENTITY_EDGE_FEATURE]);
  }
  // edge order within a block: conv1, conv2, then the shortcut
  const names = ng.edgeBlocks.map((x) => x.name);
  assert.ok(names.indexOf('layer1.1.conv1') < names.indexOf('layer1.1.conv2'), 'conv1 edges before conv2 edges');
  assert.equal(names.indexOf('layer1.1.add'), names.indexOf('layer1.1.conv2') + 1);
  // the very first block's shortcut comes from the stem
  const first = block(ng, 'layer1.0.add');
  assert.equal(first.inOffset, nodes(ng, 'conv1').offset);
});

test('projection shortcut: dense 1×1 edges from the block input into the conv2 block; its BN in columns 5–8', () => {
  const g = buildModel('resnet20');
  const p = randomParams(g, 4);
  const ng = toGraph(g, p);
  const ds = block(ng, 'layer2.0.downsample.0');
  const main = nodes(ng, 'layer2.0.conv2');
  assert.ok(!ng.nodeBlocks.some((b) => b.name === 'layer2.0.downsample.0'), 'a projection conv owns no nodes');
  assert.deepEqual(main.shortcuts, ['layer2.0.downsample.0']);
  assert.deepEqual([ds.kind, ds.role, ds.outOffset, ds.outCount, ds.inCount], ['conv1x1', 'shortcut', main.offset, 32, 16]);
  assert.equal(ds.inOffset, nodes(ng, 'layer1.2.conv2').offset);
  const W = p['layer2.0.downsample.0.weight'].data; // [32, 16, 1, 1]
  const f = row(ng.edgeFeatures, ds.edgeOffset + 5 * 16 + 9);
  assert.deepEqual(f, [0, 0, 0, 0, W[5 * 16 + 9], 0, 0, 0, 0]);
  for (const c of [0, 13, 31]) {
    const r = row(ng.nodeFeatures, main.offset + c);
    const bn = (n: string) => ['weight', 'bias', 'running_mean', 'running_var'].map((k) => p[`${n}.${k}`].data[c]);
    assert.deepEqual(r, [...bn('layer2.0.bn2'), 0, ...bn('layer2.0.downsample.1')]);
  }
  // identity-shortcut blocks keep the shortcut-BN defaults
  const plain = nodes(ng, 'layer2.1.conv2');
  assert.deepEqual(row(ng.nodeFeatures, plain.offset).slice(4), NODE_DEFAULTS.slice(4));
});

test('VGG: conv bias in column 4, BN in columns 0–3', () => {
  const g = buildModel('vgg11', { numClasses: 10 });
  const p = randomParams(g, 5);
  const ng = toGraph(g, p);
  const b = nodes(ng, 'features.2.conv');
  const r = row(ng.nodeFeatures, b.offset + 3);
  const bn = ['weight', 'bias', 'running_mean', 'running_var'].map((k) => p[`features.2.bn.${k}`].data[3]);
  assert.deepEqual(r, [...bn, p['features.2.conv.bias'].data[3], 1, 0, 0, 1]);
});

test('concat: the consumer\'s in-channels map to the concatenated blocks with offsets', () => {
  const g = buildModel('concatnet');
  const p = randomParams(g, 6);
  const ng = toGraph(g, p);
  const mix = block(ng, 'mix');
  const b1 = nodes(ng, 'branch1'), b2 = nodes(ng, 'branch2b'), stem = nodes(ng, 'stem');
  const expect = [...Array(8).keys()].map((i) => b1.offset + i)
    .concat([...Array(12).keys()].map((i) => b2.offset + i))
    .concat([...Array(16).keys()].map((i) => stem.offset + i));
  assert.deepEqual(Array.from(mix.inNodes), expect);
  assert.equal(mix.inOffset, -1, 'not contiguous');
  assert.equal(mix.numEdges, 32 * 36);
  // edge (o = 2, i = 25) reads the 6th channel of the stem through the max-pool branch
  const e = mix.edgeOffset + 2 * 36 + 25;
  assert.equal(ng.edgeIn[e], stem.offset + 5);
});

test('grouped/depthwise conv: edge (o, i) only inside o\'s group, in W.reshape(O, I/g, 9) order', () => {
  const b = new GraphBuilder('grouped');
  let x = b.input([4, 6, 6]);
  x = b.convBn(x, 'c1', 6, { kernel: 3, padding: 1 });
  x = b.convBn(x, 'dw', 6, { kernel: 3, padding: 1, groups: 6 });
  x = b.convBn(x, 'g2', 4, { kernel: 1, groups: 2 });
  const g = b.build(b.linear(b.gap(x), 'fc', 3));
  const p = randomParams(g, 7);
  const ng = toGraph(g, p);
  const dw = block(ng, 'dw');
  assert.equal(dw.numEdges, 6);
  const c1 = nodes(ng, 'c1').offset, dwN = nodes(ng, 'dw').offset;
  for (let o = 0; o < 6; o++) {
    assert.equal(ng.edgeOut[dw.edgeOffset + o], dwN + o);
    assert.equal(ng.edgeIn[dw.edgeOffset + o], c1 + o);
  }
  const g2 = block(ng, 'g2'); // 6 → 4 in 2 groups: out o reads in channels 3·⌊o/2⌋ .. +2
  assert.equal(g2.numEdges, 4 * 3);
  assert.deepEqual(Array.from(ng.edgeIn.subarray(g2.edgeOffset, g2.edgeOffset + 12)).map((n) => n - dwN), [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
  assert.deepEqual(fromGraph(ng, g, p)['g2.weight'].toArray(), p['g2.weight'].toArray());
});

test('masks: trainable node slots and weight-backed edge entries only', () => {
  const g = buildModel('resnet20');
  const p = randomParams(g, 8);
  const ng = toGraph(g, p);
  const nm = nodeMask(ng);
  const em = edgeMask(ng);
  assert.deepEqual(nm.shape, [ng.numNodes, 9]);
  assert.deepEqual(em.shape, [ng.numEdges, 9]);
  // stem channel: BN γ/β only; downsample block: + shortcut γ/β; classes: bias; input: nothing
  assert.deepEqual(row(nm, nodes(ng, 'conv1').offset), [1, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(nm, nodes(ng, 'layer3.0.conv2').offset + 1), [1, 1, 0, 0, 0, 1, 1, 0, 0]);
  assert.deepEqual(row(nm, nodes(ng, 'fc').offset), [0, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.deepEqual(row(nm, 0), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
  for (let r = 0; r < ng.numNodes; r++) {
    for (let c = 0; c < 9; c++) if (nm.data[r * 9 + c] === 1) assert.ok(NODE_CHANGEABLE_COLUMNS.includes(c), `mask set in column ${c}`);
  }
  assert.deepEqual(row(em, block(ng, 'conv1').edgeOffset), [1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(row(em, block(ng, 'layer2.0.downsample.0').edgeOffset), [0, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.deepEqual(row(em, block(ng, 'layer2.1.add').edgeOffset), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(EDGE_CENTRE, 4);
});

test('fromGraph is differentiable: d/dfeatures Σ_k <R_k, θ\'_k> = toGraph(R) on the masked slots, 0 elsewhere', () => {
  const g = buildModel('smallcnn-res', { width: 0.5 });
  const p = randomParams(g, 9, 'float64');
  const R = randomParams(g, 10, 'float64');
  const ng = toGraph(g, p);
  const f = (feat: GraphFeatures): Tensor => {
    const q: Params = fromGraph(feat, g, p);
    let s: Tensor | null = null;
    for (const n of g.nodes) {
      if (n.op !== 'conv2d' && n.op !== 'linear' && n.op !== 'batchnorm') continue;
      for (const role of ['weight', 'bias']) {
        const k = `${n.name}.${role}`;
        if (q[k] === undefined) continue;
        const t = sum(mul(q[k], R[k]));
        s = s === null ? t : add(s, t);
      }
    }
    return s!;
  };
  const { grads } = valueAndGrad(f)({ nodeFeatures: ng.nodeFeatures, edgeFeatures: ng.edgeFeatures });
  const expected = toGraph(g, R);
  const nm = nodeMask(ng, 'float64'), em = edgeMask(ng, 'float64');
  for (let i = 0; i < nm.size; i++) assert.ok(grads.nodeFeatures.data[i] === nm.data[i] * expected.nodeFeatures.data[i], `node slot ${i}`);
  for (let i = 0; i < em.size; i++) assert.ok(grads.edgeFeatures.data[i] === em.data[i] * expected.edgeFeatures.data[i], `edge entry ${i}`);
});

test('unsupported structures fail with an error naming the node', () => {
  const cases: [string, RegExp][] = [
    ['resnet18', /node 'conv1' \(conv2d\) has a 7×7 kernel/],
    ['flatcnn', /node 'flatten' \(flatten\) flattens a 16×3×3 map \(flatten → linear\)/],
  ];
  for (const [name, re] of cases) {
    const g = buildModel(name);
    assert.throws(() => toGraph(g, randomParams(g, 1)), (e: unknown) => e instanceof NeuralGraphError && re.test((e as Error).message));
  }
  // an add of two values that are both used elsewhere: no branch to identify the sum with
  const b = new GraphBuilder('bad-add');
  const x = b.input([2, 4, 4]);
  const y = b.relu(b.conv(x, 'c1', 2, { kernel: 3, padding: 1 }));
  const s = b.add([x, y], 'sum');
  const g = b.build(b.linear(b.gap(b.add([s, y], 'sum2')), 'fc', 2));
  assert.throws(() => toGraph(g, randomParams(g, 1)), /node 'sum' \(add\) has no input that comes straight from a conv\/linear layer/);
  // a BN after an add whose channels already have a BN: one slot per channel
  const b2 = new GraphBuilder('bn-after-add');
  const x2 = b2.input([2, 4, 4]);
  const c = b2.convBn(x2, 'c', 2, { kernel: 3, padding: 1 }, 'none', 'c_bn');
  const a2 = b2.bn(b2.add([c, x2], 'a'), 'post_bn');
  const g2 = b2.build(b2.linear(b2.gap(a2), 'fc', 2));
  assert.throws(() => toGraph(g2, randomParams(g2, 1)), /'post_bn\.weight' and 'c_bn\.weight' both need column 0/);
  // wrong parameter shape
  const sc = buildModel('smallcnn');
  const bad = randomParams(sc, 1);
  bad['conv2.weight'] = randomParams(buildModel('smallcnn', { width: 0.5 }), 1)['conv2.weight'];
  assert.throws(() => toGraph(sc, bad), /parameter 'conv2\.weight' has shape \[16, 8, 3, 3\], the graph expects \[32, 16, 3, 3\]/);
});
