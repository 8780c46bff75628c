// PyTorch-style exports that the importer folds: Identity nodes reading initializers (shared
// constants) and dynamic-batch Reshape targets computed by Shape → Gather → Unsqueeze → Concat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { forward } from '../../src/ir/forward.js';
import { randn } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { importOnnx, int64TensorProto, floatTensorProto, OnnxError, type NodeProto } from '../../src/io/onnx/index.js';
import { ai, aints, build, node, rnd } from './onnx-build.js';

const INITS = [rnd('w', [6, 4, 3, 3]), floatTensorProto('zeros', [6], new Float32Array(6)), rnd('fc', [5, 6 * 8 * 8])];
const inits = () => INITS;
const trunk: NodeProto[] = [
  node('Identity', ['zeros'], ['b']),
  node('Conv', ['x', 'w', 'b'], ['c'], [aints('pads', [1, 1, 1, 1])]),
  node('Relu', ['c'], ['r']),
];
const head = (target: string): NodeProto[] => [node('Reshape', ['r', target], ['f']), node('Gemm', ['f', 'fc'], ['y'], [ai('transB', 1)])];

test('an Identity reading an initializer and a Shape→Gather→Unsqueeze→Concat reshape target fold to the static model', () => {
  const stat = importOnnx(build([...trunk, ...head('t')], [...inits(), int64TensorProto('t', [2], [-1, 384])]));
  const dyn = importOnnx(build([
    ...trunk,
    node('Shape', ['r'], ['s']),
    node('Gather', ['s', 'i0'], ['n'], [ai('axis', 0)]),
    node('Unsqueeze', ['n', 'ax0'], ['n1']),
    // C·H·W computed from the shape too, as `x.view(x.size(0), x.size(1) * x.size(2) * x.size(3))`
    node('Slice', ['s', 'st', 'en'], ['chw']),
    node('Gather', ['chw', 'i0'], ['cdim'], [ai('axis', 0)]),
    node('Mul', ['cdim', 'hw'], ['feat']),
    node('Unsqueeze', ['feat', 'ax0'], ['f1']),
    node('Concat', ['n1', 'f1'], ['t'], [ai('axis', 0)]),
    ...head('t'),
  ], [...inits(), int64TensorProto('i0', [], [0]), int64TensorProto('ax0', [1], [0]), int64TensorProto('st', [1], [1]), int64TensorProto('en', [1], [2]), int64TensorProto('hw', [], [64])]));
  assert.deepEqual(dyn.graph, stat.graph);
  assert.ok(dyn.info.dropped.includes('b') && dyn.info.dropped.includes('t'));
  assert.deepEqual(Object.keys(dyn.params).sort(), Object.keys(stat.params).sort());
  const x = randn([2, 4, 8, 8], new Rng(3));
  const a = forward(stat.graph, stat.params, x), b = forward(dyn.graph, dyn.params, x);
  assert.deepEqual([...b.data], [...a.data]);
});

test('arithmetic on the dynamic batch size is refused with the node named', () => {
  assert.throws(() => importOnnx(build([
    ...trunk,
    node('Shape', ['r'], ['s']),
    node('Gather', ['s', 'i0'], ['n'], [ai('axis', 0)]),
    node('Mul', ['n', 'two'], ['n2']),
    node('Unsqueeze', ['n2', 'ax0'], ['n1']),
    node('Concat', ['n1', 'm1'], ['t'], [ai('axis', 0)]),
    ...head('t'),
  ], [...inits(), int64TensorProto('i0', [], [0]), int64TensorProto('ax0', [1], [0]), int64TensorProto('two', [], [2]), int64TensorProto('m1', [1], [-1])]), { source: 'm.onnx' }),
  (e: Error) => e instanceof OnnxError && /^m\.onnx: node 'n2' \(Mul\): cannot fold this shape computation: Mul computes with the dynamic batch size/.test(e.message));
});
