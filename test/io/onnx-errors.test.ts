// Malformed and unsupported ONNX inputs fail with an OnnxError naming the file, node, op and
// attribute (never a crash or a silently different model); the hand-built models that ARE
// representable (folded constants, absorbed Pads, auto_pad, ReduceMean, ...) are checked numerically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/tensor/backends/index.js';
import { buildModel } from '../../src/models/index.js';
import { initParams } from '../../src/ir/init.js';
import { forward } from '../../src/ir/forward.js';
import type { Params } from '../../src/ir/graph.js';
import { randn, Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import {
  importOnnx, loadOnnx, exportOnnx, decodeModelProto, encodeModelProto, floatTensorProto, tensorFloats, int64TensorProto, OnnxError, DataType, AttributeType,
  loadOnnxRuntime, runOnnx, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto, type AttributeProto, type ImportedOnnx,
} from '../../src/io/onnx/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-onnx-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const ort = await loadOnnxRuntime();

const graph = buildModel('smallcnn');
const params = initParams(graph, 3);
const good = exportOnnx(graph, params);

function mutate(fn: (m: ModelProto) => void, bytes: Uint8Array = good): Uint8Array {
  const m = decodeModelProto(bytes);
  fn(m);
  return encodeModelProto(m);
}

function rejects(bytes: Uint8Array, re: RegExp): void {
  assert.throws(() => importOnnx(bytes, { source: 'm.onnx' }), (e: Error) => {
    assert.ok(e instanceof OnnxError, `${e.name}: ${e.message}`);
    assert.match(e.message, /^m\.onnx: /);
    assert.match(e.message, re);
    return true;
  });
}

// ----------------------------------------------------------------------------- hand-built models

const vi = (name: string, dims: (number | string)[]): ValueInfoProto => ({
  name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
});
const ai = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
const af = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });
const aints = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });
const node = (op: string, input: string[], output: string[], attribute: AttributeProto[] = [], name = output[0]): NodeProto => ({ op_type: op, input, output, attribute, name });

let seed = 1;
function rnd(name: string, dims: number[], scale = 0.3): TensorProto {
  const rng = new Rng(seed++);
  const n = dims.reduce((p, d) => p * d, 1);
  return floatTensorProto(name, dims, Float32Array.from({ length: n }, () => rng.normal() * scale));
}
const scalar = (name: string, v: number): TensorProto => floatTensorProto(name, [], [v]);

function build(nodes: NodeProto[], inits: TensorProto[], o: { inDims?: (number | string)[]; opset?: number; output?: string } = {}): Uint8Array {
  const output = o.output ?? nodes[nodes.length - 1].output![0];
  return encodeModelProto({
    ir_version: 8, opset_import: [{ domain: '', version: o.opset ?? 13 }], producer_name: 'test',
    graph: { name: 'g', node: nodes, initializer: inits, input: [vi('x', o.inDims ?? ['N', 4, 8, 8])], output: [{ name: output }] },
  });
}

const X = (shape: number[]) => randn(shape, new Rng(42));

/** When onnxruntime is there: the original ONNX and the imported IR compute the same. */
async function sameAsOrt(bytes: Uint8Array, m: ImportedOnnx, shape: number[]): Promise<void> {
  if (ort === null) return;
  const x = X(shape);
  const a = await runOnnx(ort, bytes, x);
  const b = forward(m.graph, m.params, x);
  assert.deepEqual([...a.shape], [...b.shape]);
  for (let i = 0; i < a.size; i++) assert.ok(Math.abs(a.data[i] - b.data[i]) <= 1e-4, `element ${i}: ${a.data[i]} vs ${b.data[i]}`);
}

// ----------------------------------------------------------------------------- corrupt files

test('a truncated file is a clear error naming the file, at any truncation point', () => {
  const path = join(dir, 'trunc.onnx');
  writeFileSync(path, good.subarray(0, Math.floor(good.length / 2)));
  assert.throws(() => loadOnnx(path), (e: Error) => {
    assert.ok(e instanceof OnnxError);
    assert.match(e.message, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a valid ONNX model: protobuf decoding of its ${Math.floor(good.length / 2)} bytes failed \\(.+\\); the file is truncated or corrupt, or not an ONNX file$`));
    return true;
  });
  const cuts = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144];
  for (let k = 1; k < 40; k++) cuts.push(Math.floor((good.length * k) / 40));
  for (const n of cuts) {
    assert.throws(() => importOnnx(good.subarray(0, n)), (e: Error) => e instanceof OnnxError, `truncated to ${n} bytes`);
  }
});

test('garbage bytes and other formats are recognized as not ONNX', () => {
  const rng = new Rng(5);
  for (let k = 0; k < 20; k++) {
    const junk = Uint8Array.from({ length: 64 + 200 * k }, () => rng.int(256));
    assert.throws(() => importOnnx(junk), (e: Error) => e instanceof OnnxError && /not (a valid|an) ONNX model/.test(e.message), `junk ${k}`);
  }
  rejects(Uint8Array.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), /not an ONNX model: the data looks like a zip archive \(a PyTorch \.pt\/\.pth checkpoint\? export it with torch\.onnx\.export first\)/);
  rejects(new TextEncoder().encode('{"format": "metaprune-model"}'), /not an ONNX model: the data looks like JSON text/);
  rejects(new Uint8Array(0), /empty file, not an ONNX model/);
  rejects(new TextEncoder().encode('hello, this is not a model'), /not a valid ONNX model/);
  assert.throws(() => loadOnnx(join(dir, 'nope.onnx')), /nope\.onnx: not found$/);
});

test('raw_data of the wrong length, external data and float16 weights are named', () => {
  rejects(mutate((m) => {
    const t = m.graph!.initializer!.find((i) => i.name === 'conv1.weight')!;
    t.raw_data = t.raw_data!.subarray(0, t.raw_data!.length - 4);
  }), /node 'conv1' \(Conv\): weight 'conv1\.weight' has 572 bytes of raw_data, its dims need 576 \(144 × float32\); the file is truncated or corrupt/);
  rejects(mutate((m) => {
    const t = m.graph!.initializer!.find((i) => i.name === 'conv1.weight')!;
    delete t.raw_data;
    t.data_location = 1;
    t.external_data = [{ key: 'location', value: 'weights.bin' }];
  }), /weight 'conv1\.weight' keeps its data in an external file \('weights\.bin'\); external data is not supported/);
  rejects(mutate((m) => {
    const t = m.graph!.initializer!.find((i) => i.name === 'conv1.weight')!;
    t.data_type = DataType.FLOAT16;
  }), /weight 'conv1\.weight' has data type FLOAT16; metaprune reads float32 \(or float64\) weights only/);
  rejects(mutate((m) => {
    m.graph!.initializer = m.graph!.initializer!.filter((i) => i.name !== 'conv2.weight');
  }), /node 'conv2' \(Conv\): reads 'conv2\.weight', which no node, initializer or graph input defines/);
});

test('random corruption of real files gives an OnnxError or a valid model, never another error', () => {
  const rng = new Rng(11);
  const src = exportOnnx(buildModel('concatnet'), initParams(buildModel('concatnet'), 1));
  for (let k = 0; k < 300; k++) {
    const b = Uint8Array.from(src);
    for (let j = 0; j < 1 + rng.int(4); j++) b[rng.next() < 0.7 ? rng.int(4000) : b.length - 1 - rng.int(3000)] = rng.int(256);
    try {
      const m = importOnnx(b);
      forward(m.graph, m.params, X([1, 1, 14, 14]));
    } catch (e) {
      assert.ok(e instanceof OnnxError, `mutation ${k}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
});

// ----------------------------------------------------------------------------- unsupported content

const SUPPORTED = 'supported ops: Conv, BatchNormalization, Relu, Clip, Add, Sum, Sub, Mul, Div, Concat, MaxPool, AveragePool, GlobalAveragePool, ReduceMean, Flatten, Reshape, Gemm, MatMul, Identity, Dropout, Constant, Pad, Shape, Gather, Unsqueeze, Squeeze, Slice, Cast, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, PRelu, Softmax';

test('an unknown or unsupported op names the node and op and lists the supported ops', () => {
  const relu = (m: ModelProto) => m.graph!.node!.find((n) => n.name === 'relu3')!;
  rejects(mutate((m) => { relu(m).op_type = 'Frobnicate'; }), new RegExp(`node 'relu3' \\(Frobnicate\\): unsupported op 'Frobnicate'; ${SUPPORTED}$`));
  rejects(mutate((m) => { relu(m).op_type = 'Elu'; }), /node 'relu3' \(Elu\): unsupported op 'Elu' \(the IR has no ELU activation\); supported ops: Conv, /);
  rejects(mutate((m) => { relu(m).op_type = 'Gelu'; }), /\(Gelu\): unsupported op 'Gelu' \(the IR has no GELU activation\)/);
  rejects(mutate((m) => { relu(m).op_type = 'Tanh'; }), /\(Tanh\): unsupported op 'Tanh' \(the IR has no tanh activation\)/);
  rejects(mutate((m) => { relu(m).domain = 'com.microsoft'; }), /node 'relu3' \(Relu\): op 'Relu' of domain 'com\.microsoft' is not supported \(only the default ai\.onnx domain; supported ops: Conv,/);
});

test('unsupported attributes and attribute values name the node, op and attribute', () => {
  const conv = (m: ModelProto) => m.graph!.node!.find((n) => n.name === 'conv2')!;
  rejects(mutate((m) => { conv(m).attribute!.push(ai('foo', 1)); }),
    /node 'conv2' \(Conv\): attribute 'foo' is not supported \(supported attributes of Conv: auto_pad, dilations, group, kernel_shape, pads, strides\)$/);
  rejects(mutate((m) => { conv(m).attribute!.find((a) => a.name === 'pads')!.ints = [1, 1, 0, 0]; }),
    /node 'conv2' \(Conv\): attribute 'pads' = \[1, 1, 0, 0\] is asymmetric \(begin ≠ end\); metaprune supports symmetric padding only/);
  rejects(mutate((m) => { conv(m).attribute!.find((a) => a.name === 'group')!.type = AttributeType.FLOAT; }),
    /node 'conv2' \(Conv\): attribute 'group' has type FLOAT, expected INT/);
  rejects(mutate((m) => {
    const bn = m.graph!.node!.find((n) => n.op_type === 'BatchNormalization')!;
    bn.attribute!.push(ai('training_mode', 1));
  }, exportOnnx(graph, params, { opset: 15 })), /node 'bn1' \(BatchNormalization\): attribute 'training_mode' = 1: only inference-mode batch norm is supported/);
  rejects(mutate((m) => { m.graph!.node!.find((n) => n.op_type === 'Gemm')!.attribute!.push(ai('transA', 1)); }),
    /node 'fc' \(Gemm\): attribute 'transA' = 1 is not supported/);
  rejects(mutate((m) => { m.graph!.node!.find((n) => n.op_type === 'Flatten')!.attribute = [ai('axis', 2)]; }),
    /node 'pool\.flatten' \(Flatten\): attribute 'axis' = 2: only Flatten\(axis=1\) \(to N×features\) is supported/);
  rejects(mutate((m) => { m.opset_import = [{ domain: '', version: 9 }]; }), /opset 9 is not supported \(metaprune reads opsets 11–18/);
});

test('a dynamic (or undeclared) input shape is a clear error', () => {
  rejects(mutate((m) => { m.graph!.input![0].type!.tensor_type!.shape!.dim![2] = { dim_param: 'height' }; }),
    /input 'input' has a dynamic dimension 'height' at axis 2 \(shape \[N, 1, height, 14\]\); metaprune needs a static C×H×W input shape: export the model with a fixed input size/);
  rejects(mutate((m) => { m.graph!.input![0].type!.tensor_type!.shape!.dim![3] = {}; }), /input 'input' has a dynamic dimension \(unknown\) at axis 3/);
  rejects(mutate((m) => { delete m.graph!.input![0].type!.tensor_type!.shape; }), /input 'input' has no declared shape; metaprune needs a static C×H×W input shape/);
  rejects(mutate((m) => { m.graph!.input![0].type!.tensor_type!.elem_type = DataType.FLOAT16; }), /input 'input' has element type FLOAT16; only float32 inputs are supported/);
  // A dynamic batch alone is fine.
  assert.equal(importOnnx(good).info.inputShape[0], 'N');
});

test('graph-level problems: several inputs or outputs, global pooling output read by a conv or left 4-D', () => {
  rejects(mutate((m) => { m.graph!.input!.push(vi('y', ['N', 3])); }), /the graph has 2 inputs \('input', 'y'\); metaprune models take exactly one image \(or feature\) input/);
  rejects(mutate((m) => { m.graph!.output!.push({ name: 'relu1' }); }), /the graph has 2 outputs \('fc', 'relu1'\)/);
  const gapConv = build([
    node('GlobalAveragePool', ['x'], ['g']),
    node('Conv', ['g', 'w'], ['y'], [aints('pads', [1, 1, 1, 1])]),
  ], [rnd('w', [2, 4, 3, 3])]);
  rejects(gapConv, /node 'y' \(Conv\): reads globally pooled features \[N, 4, 1, 1\]: only an ungrouped, unpadded 1×1 convolution \(a linear layer\) of 4 channels is supported there, the weight is \[2, 4, 3, 3\] with group 1/);
  rejects(build([node('GlobalAveragePool', ['x'], ['g']), node('BatchNormalization', ['g', 's', 'b', 'm', 'v'], ['y'])], [rnd('s', [4]), rnd('b', [4]), rnd('m', [4]), floatTensorProto('v', [4], [1, 1, 1, 1])]),
    /node 'y' \(BatchNormalization\): reads 'g' of shape \[N, 4, 1, 1\] from global pooling 'g'; metaprune's global pooling yields N×4 features, so only Flatten\/Reshape to N×4 may read it/);
  rejects(build([node('GlobalAveragePool', ['x'], ['g'])], []), /graph output 'g' has shape \[N, 4, 1, 1\] \(global pooling kept as N×C×1×1\); .*add a Flatten before the output/);
});

test('ops the IR cannot express exactly are refused with the reason', () => {
  const w = rnd('w', [4, 4, 3, 3]);
  const conv = node('Conv', ['x', 'w'], ['c'], [aints('pads', [1, 1, 1, 1])]);
  rejects(build([conv, node('Clip', ['c', 'lo', 'hi'], ['y'])], [w, scalar('lo', 0), scalar('hi', 5)]),
    /node 'y' \(Clip\): Clip\(min=0, max=5\) is not representable \(supported: Clip\(0, 6\) → relu6, Clip\(0\) → relu\)/);
  rejects(build([conv, node('Mul', ['c', 'k'], ['y'])], [w, rnd('k', [1, 4, 8, 8])]),
    /node 'y' \(Mul\): Mul by constant 'k' of shape \[1, 4, 8, 8\] is not representable: only scalars or per-channel constants/);
  rejects(build([conv, node('Relu', ['c'], ['r']), node('Mul', ['r', 'k'], ['y'])], [w, rnd('k', [4, 1, 1])]),
    /node 'y' \(Mul\): Mul by constant 'k' of shape \[4, 1, 1\] is not representable: it can only be folded into the weights of a Conv, BatchNormalization or Gemm\/MatMul whose output nothing else reads, and 'r' is not one/);
  rejects(build([conv, node('Relu', ['c'], ['r']), node('Add', ['c', 'k'], ['a']), node('Add', ['a', 'r'], ['y'])], [w, rnd('k', [4, 1, 1])]),
    /node 'a' \(Add\): Add by constant 'k'.* and 'c' is not one/);
  rejects(build([conv, node('Div', ['c', 'c'], ['y'])], [w]), /node 'y' \(Div\): Div of two computed tensors is not representable \(only Add and Mul are\)/);
  rejects(build([conv, node('Concat', ['c', 'c'], ['y'], [ai('axis', 2)])], [w]), /node 'y' \(Concat\): attribute 'axis' = 2: only concatenation on the channel axis \(1\) is supported/);
  rejects(build([node('AveragePool', ['x'], ['y'], [aints('kernel_shape', [3, 3]), aints('pads', [1, 1, 1, 1])])], []),
    /node 'y' \(AveragePool\): attribute 'count_include_pad' = 0 with padding \[1, 1\] is not supported/);
  rejects(build([node('Conv', ['x', 'w'], ['y'], [ai('group', 1), aints('strides', [2, 2]), { name: 'auto_pad', type: AttributeType.STRING, s: new TextEncoder().encode('SAME_UPPER') }])], [w]),
    /node 'y' \(Conv\): attribute 'auto_pad' = 'SAME_UPPER' needs asymmetric padding \(1 in total on axis 2 for input size 8\)/);
  rejects(build([node('Pad', ['x', 'p'], ['q']), node('MaxPool', ['q'], ['y'], [aints('kernel_shape', [3, 3])])], [int64TensorProto('p', [8], [0, 0, 1, 1, 0, 0, 1, 1])]),
    /node 'y' \(MaxPool\): reads 'q', the zero-padded output of Pad 'q'; only a Conv or AveragePool can absorb a Pad/);
  rejects(build([node('Pad', ['x', 'p'], ['q']), node('Identity', ['q'], ['i']), node('Flatten', ['i'], ['y'])], [int64TensorProto('p', [8], [0, 0, 1, 1, 0, 0, 1, 1])]),
    /node 'y' \(Flatten\): reads 'i', the zero-padded output of Pad 'q'/);
  rejects(build([node('Pad', ['x', 'p'], ['q']), node('Conv', ['q', 'w'], ['c'])], [int64TensorProto('p', [8], [0, 0, 1, 0, 0, 0, 1, 1]), w]),
    /node 'q' \(Pad\): pads \[0, 0, 1, 0, 0, 0, 1, 1\] are not representable \(only symmetric non-negative zero padding of H and W/);
  rejects(build([node('Pad', ['x', 'p', 'v'], ['q']), node('Conv', ['q', 'w'], ['c'])], [int64TensorProto('p', [8], [0, 0, 1, 1, 0, 0, 1, 1]), scalar('v', 1), w]),
    /node 'q' \(Pad\): Pad with mode 'constant' and value 1 is not representable/);
  rejects(build([conv, node('Flatten', ['c'], ['f']), node('Reshape', ['f', 's'], ['y'])], [w, int64TensorProto('s', [2], [-1, 16])]),
    /node 'y' \(Reshape\): Reshape of \[N, 256\] to \[-1, 16\] is not supported: only flattening to N×256/);
});

// ----------------------------------------------------------------------------- representable hand-built models

test('Sub/Div/Mul/Add by per-channel constants fold into the producing conv, BN or Gemm; ×1 and Dropout/Identity drop; dead nodes are skipped', async () => {
  const bytes = build([
    node('Conv', ['x', 'w', 'b'], ['c'], [aints('pads', [1, 1, 1, 1])]),
    node('Sub', ['c', 'k1'], ['s']),
    node('Div', ['s', 'k2'], ['d']),
    node('BatchNormalization', ['d', 'bs', 'bb', 'bm', 'bv'], ['n'], [af('epsilon', 1e-3)]),
    node('Mul', ['n', 'half'], ['m']),
    node('Mul', ['m', 'one'], ['m1']),
    node('Relu', ['m1'], ['r']),
    node('Dropout', ['r'], ['r2']),
    node('Identity', ['r2'], ['r3']),
    node('Sigmoid', ['r3'], ['dead']),
    node('GlobalAveragePool', ['r3'], ['g']),
    node('Flatten', ['g'], ['f']),
    node('Gemm', ['f', 'fw', 'fb'], ['o'], [af('alpha', 2), af('beta', 0.5), ai('transB', 1)]),
    node('Add', ['o', 'ob'], ['y']),
  ], [
    rnd('w', [4, 4, 3, 3]), rnd('b', [4]), rnd('k1', [1, 4, 1, 1]), floatTensorProto('k2', [4, 1, 1], [2, 4, 0.5, 1]),
    floatTensorProto('bs', [4], [1, 2, 0.5, 1.5]), rnd('bb', [4]), rnd('bm', [4]), floatTensorProto('bv', [4], [1, 0.5, 2, 1]),
    scalar('half', 0.5), scalar('one', 1), rnd('fw', [3, 4]), rnd('fb', [3]), rnd('ob', [3]),
  ], { output: 'y' });
  const m = importOnnx(bytes);
  assert.deepEqual(m.graph.nodes.map((n) => n.op), ['input', 'conv2d', 'batchnorm', 'relu', 'gap', 'linear']);
  assert.deepEqual(m.info.folded, ['s', 'd', 'm', 'o', 'y']);
  assert.deepEqual(m.info.unused, ['dead']);
  for (const n of ['m1', 'r2', 'r3', 'f']) assert.ok(m.info.dropped.includes(n), n);
  // Reference: the same computation written out on the engine with the unfolded constants.
  const x = X([2, 4, 8, 8]);
  const t = (name: string) => {
    const init = decodeModelProto(bytes).graph!.initializer!.find((i) => i.name === name)!;
    return new Tensor(tensorFloats(init, name), init.dims!);
  };
  const conv = forward({ name: 'c', output: 'c', nodes: [{ op: 'input', name: 'x', inputs: [], shape: [4, 8, 8] }, { op: 'conv2d', name: 'c', inputs: ['x'], inChannels: 4, outChannels: 4, kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, bias: true }] },
    { 'c.weight': t('w'), 'c.bias': t('b') } as Params, x);
  const k1 = t('k1').data, k2 = t('k2').data, bs = t('bs').data, bb = t('bb').data, bm = t('bm').data, bv = t('bv').data, fw = t('fw').data, fb = t('fb').data, ob = t('ob').data;
  const y = forward(m.graph, m.params, x);
  for (let b = 0; b < 2; b++) {
    const feats = [0, 1, 2, 3].map((c) => {
      let s = 0;
      for (let i = 0; i < 64; i++) {
        const v = (conv.data[(b * 4 + c) * 64 + i] - k1[c]) / k2[c];
        const bn = (bs[c] * (v - bm[c])) / Math.sqrt(bv[c] + 1e-3) + bb[c];
        s += Math.max(0, 0.5 * bn);
      }
      return s / 64;
    });
    for (let o = 0; o < 3; o++) {
      let v = 0.5 * fb[o] + ob[o];
      for (let c = 0; c < 4; c++) v += 2 * fw[o * 4 + c] * feats[c];
      assert.ok(Math.abs(y.data[b * 3 + o] - v) <= 1e-4, `${y.data[b * 3 + o]} vs ${v}`);
    }
  }
  await sameAsOrt(bytes, m, [2, 4, 8, 8]);
});

test('a zero Pad is absorbed into the next Conv/AveragePool; auto_pad SAME_UPPER/VALID, ReduceMean and MatMul/Reshape/Sum map exactly', async () => {
  const same = (s: string): AttributeProto => ({ name: 'auto_pad', type: AttributeType.STRING, s: new TextEncoder().encode(s) });
  const bytes = build([
    node('Pad', ['x', 'p'], ['q']),
    node('Identity', ['q'], ['qi']),
    node('Conv', ['qi', 'w'], ['c'], [aints('kernel_shape', [3, 3])]),
    node('Conv', ['c', 'w2'], ['c2'], [same('SAME_UPPER')]),
    node('Conv', ['c', 'w3'], ['c3'], [same('VALID'), aints('kernel_shape', [1, 1])]),
    node('Sum', ['c', 'c2', 'c3'], ['s']),
    node('Pad', ['s', 'p'], ['q2']),
    node('AveragePool', ['q2'], ['a'], [aints('kernel_shape', [3, 3]), aints('strides', [2, 2])]),
    node('Clip', ['a', 'zero'], ['r']),
    node('ReduceMean', ['r'], ['g'], [aints('axes', [-1, -2]), ai('keepdims', 1)]),
    node('Reshape', ['g', 'shape'], ['f']),
    node('MatMul', ['f', 'mw'], ['y']),
  ], [int64TensorProto('p', [8], [0, 0, 1, 1, 0, 0, 1, 1]), rnd('w', [4, 4, 3, 3]), rnd('w2', [4, 4, 3, 3]), rnd('w3', [4, 4, 1, 1]), scalar('zero', 0),
    int64TensorProto('shape', [2], [0, -1]), rnd('mw', [4, 5])]);
  const m = importOnnx(bytes);
  assert.deepEqual(m.graph.nodes.map((n) => n.op), ['input', 'conv2d', 'conv2d', 'conv2d', 'add', 'avgpool', 'relu', 'gap', 'linear']);
  const byName = new Map(m.graph.nodes.map((n) => [n.name, n]));
  const c = byName.get('c'), c2 = byName.get('c2'), a = byName.get('a');
  assert.ok(c?.op === 'conv2d' && c.padding[0] === 1 && c.padding[1] === 1);
  assert.ok(c2?.op === 'conv2d' && c2.padding[0] === 1);
  assert.ok(a?.op === 'avgpool' && a.padding[0] === 1);
  assert.deepEqual(m.info.folded, ['q', 'q2']);
  await sameAsOrt(bytes, m, [3, 4, 8, 8]);

  const opset18 = build([node('ReduceMean', ['x', 'axes'], ['g'], [ai('keepdims', 0)])], [int64TensorProto('axes', [2], [2, 3])], { opset: 18 });
  const r = importOnnx(opset18);
  assert.deepEqual(r.graph.nodes.map((n) => n.op), ['input', 'gap']);
  await sameAsOrt(opset18, r, [2, 4, 8, 8]);
});

test('an ONNX model with a NaN filter is refused naming the weight, unless non-finite weights are allowed', () => {
  const g = buildModel('smallcnn', { width: 0.5 });
  const p = initParams(g, 1);
  const name = Object.keys(p).find((k) => k.endsWith('.weight'))!;
  (p[name].data as Float32Array)[3] = Number.NaN;
  const bytes = exportOnnx(g, p);
  assert.throws(() => importOnnx(bytes, { source: 'nan.onnx' }), (e: Error) => e instanceof OnnxError && e.message.includes('nan.onnx') && e.message.includes('holds NaN at element 3'));
  assert.ok(Number.isNaN(Array.from(Object.values(importOnnx(bytes, { allowNonFinite: true }).params).flatMap((t) => Array.from(t.data))).find((v) => Number.isNaN(v)) ?? 0));
});
