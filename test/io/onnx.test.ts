// ONNX export/import of the built-in models: IR → ONNX → IR is exact, onnxruntime agrees with the
// engine (skipped when onnxruntime-node is not installed), and the exported files follow the
// ONNX checker's conventions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { buildModel, modelEntry, type ModelOptions } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { forward } from '../../src/ir/forward.js';
import { countOps } from '../../src/ir/count.js';
import { inputNode, type ModelGraph, type Params } from '../../src/ir/graph.js';
import { randn, type Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { pruneToSpeedup } from '../../src/prune/index.js';
import {
  exportOnnx, importOnnx, decodeModelProto, irToModelProto, float32Decimal, OnnxError, DataType,
  loadOnnxRuntime, onnxRuntimeUnavailableReason, runOnnx, onnxLatency, type ModelProto,
} from '../../src/io/onnx/index.js';

const ort = await loadOnnxRuntime();
const NO_ORT = ort === null ? (onnxRuntimeUnavailableReason() ?? 'onnxruntime-node is not available') : false;

const CASES: [string, ModelOptions][] = [
  ['smallcnn', {}],
  ['smallcnn-res', {}],
  ['resnet20', { inputShape: [3, 16, 16] }],
  ['concatnet', {}],
  ['flatcnn', {}],
  ['mobilenetv2', { inputShape: [3, 32, 32] }],
];

/** Parameters with non-trivial BN statistics, so BN is not an identity. */
function model(name: string, o: ModelOptions, seed = 1): { graph: ModelGraph; params: Params } {
  const graph = buildModel(name, o);
  const params = initParams(graph, seed, modelEntry(name).init);
  const rng = new Rng(seed + 100);
  for (const n of graph.nodes) {
    if (n.op !== 'batchnorm') continue;
    for (let c = 0; c < n.channels; c++) {
      params[`${n.name}.weight`].data[c] = rng.uniform(0.5, 1.5);
      params[`${n.name}.bias`].data[c] = rng.normal() * 0.1;
      params[`${n.name}.running_mean`].data[c] = rng.normal() * 0.1;
      params[`${n.name}.running_var`].data[c] = rng.uniform(0.5, 1.5);
    }
  }
  return { graph, params };
}

function input(g: ModelGraph, batch: number, seed = 7): Tensor {
  return randn([batch, ...inputNode(g).shape], new Rng(seed));
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  let d = 0;
  for (let i = 0; i < a.size; i++) d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
  return d;
}

for (const [name, o] of CASES) {
  test(`${name}: IR → ONNX → IR gives the same graph, bit-identical parameters and outputs`, () => {
    const { graph, params } = model(name, o);
    const bytes = exportOnnx(graph, params);
    const back = importOnnx(bytes);
    assert.deepEqual(back.graph, graph);
    assert.deepEqual(Object.keys(back.params).sort(), Object.keys(params).sort());
    for (const k of Object.keys(params)) assert.deepEqual(back.params[k].data, params[k].data, k);
    const x = input(graph, 2);
    assert.equal(maxAbsDiff(forward(back.graph, back.params, x), forward(graph, params, x)), 0);
    assert.deepEqual(back.info.folded, []);
    assert.deepEqual(back.info.unused, []);
  });

  test(`${name}: onnxruntime runs the export and matches the engine within 1e-4`, { skip: NO_ORT }, async () => {
    const { graph, params } = model(name, o);
    const x = input(graph, 3);
    const ours = forward(graph, params, x);
    const theirs = await runOnnx(ort!, exportOnnx(graph, params), x);
    assert.ok(maxAbsDiff(ours, theirs) <= 1e-4, `max |Δ| = ${maxAbsDiff(ours, theirs)}`);
  });
}

test('exported models follow the checker conventions: opset, IR version, declared shapes, unique names, topological order', () => {
  const { graph, params } = model('concatnet', {});
  const m: ModelProto = decodeModelProto(exportOnnx(graph, params));
  assert.equal(m.ir_version, 7);
  assert.deepEqual(m.opset_import, [{ domain: '', version: 13 }]);
  assert.equal(m.producer_name, 'metaprune');
  const g = m.graph!;
  assert.equal(g.name, 'concatnet');
  const dims = (v: { type?: { tensor_type?: { elem_type?: number; shape?: { dim?: { dim_value?: number; dim_param?: string }[] } } } }) =>
    (v.type!.tensor_type!.shape!.dim ?? []).map((d) => d.dim_param ?? d.dim_value);
  assert.equal(g.input!.length, 1);
  assert.deepEqual(dims(g.input![0]), ['N', 1, 14, 14]);
  assert.equal(g.input![0].type!.tensor_type!.elem_type, DataType.FLOAT);
  assert.deepEqual(dims(g.output![0]), ['N', 10]);
  assert.equal(g.output![0].name, 'fc');
  // every node input is defined earlier (initializer, graph input or a previous node's output)
  const defined = new Set<string>([...g.initializer!.map((t) => t.name!), g.input![0].name!]);
  const nodeNames = new Set<string>();
  for (const n of g.node!) {
    for (const i of n.input!) assert.ok(defined.has(i), `${n.name} reads ${i} before it is defined`);
    for (const o of n.output!) {
      assert.ok(!defined.has(o), `value ${o} defined twice`);
      defined.add(o);
    }
    assert.ok(!nodeNames.has(n.name!), `node name ${n.name} repeated`);
    nodeNames.add(n.name!);
  }
  const ops = g.node!.map((n) => n.op_type);
  for (const op of ['Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Concat', 'GlobalAveragePool', 'Flatten', 'Gemm']) assert.ok(ops.includes(op), op);
  // initializers: float32 raw data named as the IR parameters
  for (const t of g.initializer!) {
    assert.equal(t.data_type, DataType.FLOAT);
    assert.equal(t.raw_data!.length, 4 * (t.dims ?? []).reduce((p, d) => p * d, 1));
  }
  assert.ok(g.initializer!.some((t) => t.name === 'stem.weight'));
  assert.ok(g.initializer!.some((t) => t.name === 'stem_bn.running_var'));
  // intermediate shapes are declared
  assert.deepEqual(dims(g.value_info!.find((v) => v.name === 'cat')!), ['N', 36, 14, 14]);
});

test('export options: fixed batch, opsets 11–18, an explicit input shape; bad options are errors', async () => {
  const { graph, params } = model('mobilenetv2', { inputShape: [3, 32, 32], width: 0.5 });
  const one = decodeModelProto(exportOnnx(graph, params, { batch: 1 }));
  assert.deepEqual(one.graph!.input![0].type!.tensor_type!.shape!.dim, [{ dim_value: 1 }, { dim_value: 3 }, { dim_value: 32 }, { dim_value: 32 }]);
  for (const [opset, ir] of [[11, 6], [12, 7], [17, 8], [18, 8]]) {
    const m = irToModelProto(graph, params, { opset });
    assert.equal(m.ir_version, ir);
    assert.equal(importOnnx(exportOnnx(graph, params, { opset })).info.opset, opset);
  }
  const big = irToModelProto(graph, params, { inputShape: [3, 64, 64] });
  assert.deepEqual(big.graph!.input![0].type!.tensor_type!.shape!.dim!.map((d) => d.dim_value ?? d.dim_param), ['N', 3, 64, 64]);
  assert.throws(() => exportOnnx(graph, params, { opset: 10 }), (e: Error) => e instanceof OnnxError && /opset 10 is not supported \(choose 11–18\)/.test(e.message));
  assert.throws(() => exportOnnx(graph, params, { batch: 0 }), /batch must be a positive integer or a symbolic name/);
  const missing = { ...params };
  delete missing['classifier.bias'];
  assert.throws(() => exportOnnx(graph, missing), /parameter 'classifier\.bias' of node 'classifier' \(linear\) is missing/);
  const wrong = { ...params, 'classifier.bias': randn([3], new Rng(1)) };
  assert.throws(() => exportOnnx(graph, wrong), /parameter 'classifier\.bias' has shape \[3\], node 'classifier' \(linear\) needs \[1000\]/);
  if (ort !== null) {
    const x = input(graph, 2);
    for (const opset of [11, 18]) {
      const y = await runOnnx(ort, exportOnnx(graph, params, { opset }), x);
      assert.ok(maxAbsDiff(forward(graph, params, x), y) <= 1e-4, `opset ${opset}`);
    }
    const y1 = await runOnnx(ort, exportOnnx(graph, params, { batch: 1 }), input(graph, 1));
    assert.deepEqual([...y1.shape], [1, 1000]);
  }
});

test('a pruned resnet20 exports, re-imports exactly, and runs in onnxruntime with the engine\'s outputs', async () => {
  const { graph, params } = model('resnet20', { inputShape: [3, 16, 16] });
  const r = pruneToSpeedup(graph, params, { speedup: 2, iterativeSteps: 50 });
  assert.ok(countOps(graph).macs / countOps(r.graph).macs >= 2);
  const bytes = exportOnnx(r.graph, r.params);
  const back = importOnnx(bytes);
  assert.deepEqual(back.graph, r.graph);
  const x = input(r.graph, 4);
  const ours = forward(r.graph, r.params, x);
  assert.equal(maxAbsDiff(forward(back.graph, back.params, x), ours), 0);
  if (ort !== null) assert.ok(maxAbsDiff(await runOnnx(ort, bytes, x), ours) <= 1e-4);
});

test('BN without affine parameters exports as BatchNormalization with unit scale and zero bias', async () => {
  const { graph, params } = model('smallcnn', {});
  const g: ModelGraph = { ...graph, nodes: graph.nodes.map((n) => (n.op === 'batchnorm' && n.name === 'bn2' ? { ...n, affine: false } : n)) };
  const p = { ...params };
  delete p['bn2.weight'];
  delete p['bn2.bias'];
  const bytes = exportOnnx(g, p);
  const back = importOnnx(bytes);
  const x = input(g, 2);
  assert.ok(maxAbsDiff(forward(back.graph, back.params, x), forward(g, p, x)) <= 1e-6);
  if (ort !== null) assert.ok(maxAbsDiff(await runOnnx(ort, bytes, x), forward(g, p, x)) <= 1e-4);
});

test('float attributes come back as the decimal that was written (float32 on the wire)', () => {
  assert.equal(float32Decimal(Math.fround(1e-5)), 1e-5);
  assert.equal(float32Decimal(Math.fround(0.001)), 0.001);
  assert.equal(float32Decimal(0.9), 0.9);
  const { graph, params } = model('smallcnn', {});
  const g: ModelGraph = { ...graph, nodes: graph.nodes.map((n) => (n.op === 'batchnorm' ? { ...n, eps: 1e-3, momentum: 0.01 } : n)) };
  const back = importOnnx(exportOnnx(g, params));
  assert.deepEqual(back.graph, g);
});

test('onnxLatency reports a median over timed runs', { skip: NO_ORT }, async () => {
  const { graph, params } = model('smallcnn', {});
  const l = await onnxLatency(ort!, exportOnnx(graph, params), [1, 14, 14], { batch: 4, runs: 5, warmup: 1 });
  assert.equal(l.batch, 4);
  assert.equal(l.runs, 5);
  assert.ok(l.medianMs > 0 && l.minMs <= l.medianMs);
});
