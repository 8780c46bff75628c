/** fromGraph(toGraph(θ)) === θ, element for element, for every supported model family and for uneven widths. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { buildModel } from '../../src/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { fromGraph, graphPlan, toGraph } from '../../src/graph/index.js';
import type { ModelGraph } from '../../src/ir/graph.js';
import { assertBitExact, randomParams, resizeGraph, unevenResnet } from './helpers.js';

function roundTrip(g: ModelGraph, seed: number, dtype: 'float32' | 'float64' = 'float32'): { nodes: number; edges: number } {
  const p = randomParams(g, seed, dtype);
  const ng = toGraph(g, p);
  assert.equal(ng.nodeFeatures.dtype, dtype);
  const back = fromGraph(ng, g, p);
  assertBitExact(p, back, `round trip of ${g.name}`);
  // The copies are fresh: the running statistics of θ' do not alias θ's.
  for (const k of Object.keys(p)) assert.notEqual(back[k].data, p[k].data, `'${k}' must not share storage with the template`);
  return { nodes: ng.numNodes, edges: ng.numEdges };
}

for (const name of ['smallcnn', 'smallcnn-res', 'resnet20', 'resnet56', 'vgg19', 'concatnet']) {
  test(`round trip is bit-exact: ${name}`, () => {
    roundTrip(buildModel(name), 1);
  });
}

test('round trip in float64 (resnet20)', () => {
  roundTrip(buildModel('resnet20'), 2, 'float64');
});

test('round trip with the classifier C ≠ D both ways (the reference bug of method §1.7)', () => {
  // D = 64 features → C = 10 and C = 100 classes; and a wide head C = 200 > D.
  for (const numClasses of [10, 100, 200]) roundTrip(buildModel('resnet20', { numClasses }), 3);
  roundTrip(buildModel('vgg11', { numClasses: 10 }), 4);
});

test('round trip of uneven widths: smallcnn width 0.7 and hand-resized smallcnn / smallcnn-res', () => {
  const r = roundTrip(buildModel('smallcnn', { width: 0.7 }), 5);
  // widths round(0.7·[16,32,32,64,64]) = [11,22,22,45,45]: N = 1+11+22+22+45+45+10 = 156
  assert.equal(r.nodes, 156);
  roundTrip(resizeGraph(buildModel('smallcnn'), { conv1: 3, conv2: 17, conv3: 5, conv4: 29, conv5: 2 }), 6);
  // residual: conv2/conv3 and conv4/conv5 are coupled by identity adds
  roundTrip(resizeGraph(buildModel('smallcnn-res'), { conv1: 9, conv2: 13, conv3: 13, conv4: 7, conv5: 7, fc: 4 }), 7);
});

test('round trip of "pruned" ResNet-20/56 (random stage and block widths) and a thinned VGG-19', () => {
  for (let s = 0; s < 3; s++) roundTrip(unevenResnet(buildModel('resnet20'), 10 + s), 20 + s);
  roundTrip(unevenResnet(buildModel('resnet56'), 30), 31);
  const vgg = buildModel('vgg19');
  const rng = new Rng(8);
  const widths: Record<string, number> = {};
  for (const n of vgg.nodes) if (n.op === 'conv2d') widths[n.name] = 1 + rng.int(n.outChannels / 4);
  roundTrip(resizeGraph(vgg, widths), 32);
});

test('round trip of depthwise / grouped convs and inverted residuals (MobileNetV2 at 32×32, width 0.35)', () => {
  roundTrip(buildModel('mobilenetv2', { inputShape: [3, 32, 32], numClasses: 10, width: 0.35 }), 40);
});

test('the plan is built once per graph object; repeated conversions reuse it', () => {
  const g = buildModel('resnet56');
  const p = randomParams(g, 9);
  const a = toGraph(g, p);
  const b = toGraph(g, p);
  assert.equal(a.plan, b.plan);
  assert.equal(graphPlan(g), a.plan);
  assert.equal(a.edgeIndex, b.edgeIndex);
});

test('node and edge counts equal the hand-computed numbers', () => {
  // smallcnn: input 1; conv1..5 = 16, 32, 32, 64, 64; fc 10
  //   N = 1 + 16 + 32 + 32 + 64 + 64 + 10 = 219
  //   E = 1·16 + 16·32 + 32·32 + 32·64 + 64·64 + 64·10 = 16 + 512 + 1024 + 2048 + 4096 + 640 = 8336
  const s = toGraph(buildModel('smallcnn'), randomParams(buildModel('smallcnn'), 1));
  assert.equal(s.numNodes, 219);
  assert.equal(s.numEdges, 8336);
  // smallcnn-res: same nodes; + identity diagonals 32 (add3) + 64 (add5) = 8336 + 96 = 8432
  const r = toGraph(buildModel('smallcnn-res'), randomParams(buildModel('smallcnn-res'), 1));
  assert.equal(r.numNodes, 219);
  assert.equal(r.numEdges, 8432);
  // ResNet-20: input 3, stem 16, 3 stages × 3 blocks × (conv1 + conv2 blocks) of 16/32/64, fc 10
  //   N = 3 + 16 + 3·(16+16) + 3·(32+32) + 3·(64+64) + 10 = 3 + 16 + 96 + 192 + 384 + 10 = 701
  //   (the downsample convs add no nodes: their outputs are the conv2 blocks they add into)
  //   stem: 3·16 = 48
  //   stage 1: 3 × (16·16 + 16·16 + 16 identity) = 3 × 528 = 1584
  //   stage 2: block 0: 16·32 + 32·32 + 16·32 (1×1 downsample) = 512 + 1024 + 512 = 2048;
  //            blocks 1, 2: 2 × (32·32 + 32·32 + 32) = 2 × 2080 = 4160          → 6208
  //   stage 3: block 0: 32·64 + 64·64 + 32·64 = 2048 + 4096 + 2048 = 8192;
  //            blocks 1, 2: 2 × (64·64 + 64·64 + 64) = 2 × 8256 = 16512        → 24704
  //   fc: 64·10 = 640
  //   E = 48 + 1584 + 6208 + 24704 + 640 = 33184
  const g20 = buildModel('resnet20');
  const n20 = toGraph(g20, randomParams(g20, 1));
  assert.equal(n20.numNodes, 701);
  assert.equal(n20.numEdges, 33184);
  assert.equal(n20.nodeBlocks.length, 1 + 1 + 18 + 1);
  // ResNet-56: 2,045 nodes as in the reference; its 140,720 edges minus the dense-zero identity
  // blocks it uses (9·(16²−16) + 8·(32²−32) + 8·(64²−64) = 42,352) = 98,368 with sparse diagonals.
  const g56 = buildModel('resnet56');
  const n56 = toGraph(g56, randomParams(g56, 1));
  assert.equal(n56.numNodes, 2045);
  assert.equal(n56.numEdges, 140720 - 42352);
  // VGG-19-BN / CIFAR-100: 5,607 nodes and 2,275,520 edges, as in the reference (method §1.3).
  const plan = graphPlan(buildModel('vgg19'));
  assert.equal(plan.numNodes, 5607);
  assert.equal(plan.numEdges, 2275520);
});

test('a graph edited in place is re-planned', () => {
  const g = buildModel('smallcnn');
  const before = graphPlan(g);
  const resized = resizeGraph(g, { conv3: 5 });
  g.nodes = resized.nodes;
  const after = graphPlan(g);
  assert.notEqual(after, before);
  assert.equal(after.numNodes, 219 - 32 + 5);
  roundTrip(g, 50);
});
