// Hand-built ONNX models for importer tests: value infos, attributes, nodes, random initializers.
import { Rng } from '../../src/tensor/random.js';
import { DataType, AttributeType, encodeModelProto, floatTensorProto, type NodeProto, type TensorProto, type ValueInfoProto, type AttributeProto } from '../../src/io/onnx/index.js';

export const vi = (name: string, dims: (number | string)[]): ValueInfoProto => ({
  name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
});
export const ai = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
export const af = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });
export const aints = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });
export const node = (op: string, input: string[], output: string[], attribute: AttributeProto[] = [], name = output[0]): NodeProto => ({ op_type: op, input, output, attribute, name });

let seed = 1000;
export function rnd(name: string, dims: number[], scale = 0.3, offset = 0): TensorProto {
  const rng = new Rng(seed++);
  const n = dims.reduce((p, d) => p * d, 1);
  return floatTensorProto(name, dims, Float32Array.from({ length: n }, () => offset + rng.normal() * scale));
}

export function build(nodes: NodeProto[], inits: TensorProto[], o: { inDims?: (number | string)[]; opset?: number; output?: string; outDims?: (number | string)[] } = {}): Uint8Array {
  const output = o.output ?? nodes[nodes.length - 1].output![0];
  return encodeModelProto({
    ir_version: 8, opset_import: [{ domain: '', version: o.opset ?? 13 }], producer_name: 'test',
    graph: { name: 'g', node: nodes, initializer: inits, input: [vi('x', o.inDims ?? ['N', 4, 8, 8])], output: [o.outDims !== undefined ? vi(output, o.outDims) : { name: output }] },
  });
}

/**
 * A MobileNetV3/EfficientNet-style net as PyTorch 1.13 exports it at opset 13: hard swish as
 * x · HardSigmoid(x), ceil-mode pooling, a squeeze-and-excitation block (GlobalAveragePool → 1×1
 * conv → Relu → 1×1 conv → HardSigmoid → Mul with the trunk), SiLU as x · Sigmoid(x), PRelu,
 * LeakyRelu and a Softmax output. Input N×4×8×8, 5 classes.
 */
export function seNetOnnx(opset = 13): Uint8Array {
  const hs = [af('alpha', 1 / 6), af('beta', 0.5)];
  return build([
    node('Conv', ['x', 'stem.weight', 'stem.bias'], ['c1'], [aints('pads', [1, 1, 1, 1])], '/stem/Conv'),
    node('HardSigmoid', ['c1'], ['g1'], hs, '/act1/HardSigmoid'),
    node('Mul', ['c1', 'g1'], ['a1'], [], '/act1/Mul'),
    node('MaxPool', ['a1'], ['p1'], [aints('kernel_shape', [3, 3]), aints('strides', [2, 2]), ai('ceil_mode', 1)], '/pool/MaxPool'),
    node('GlobalAveragePool', ['p1'], ['s0'], [], '/se/avgpool/GlobalAveragePool'),
    node('Conv', ['s0', 'se.fc1.weight', 'se.fc1.bias'], ['s1'], [], '/se/fc1/Conv'),
    node('Relu', ['s1'], ['s2'], [], '/se/activation/Relu'),
    node('Conv', ['s2', 'se.fc2.weight', 'se.fc2.bias'], ['s3'], [], '/se/fc2/Conv'),
    node('HardSigmoid', ['s3'], ['s4'], hs, '/se/scale_activation/HardSigmoid'),
    node('Mul', ['s4', 'p1'], ['e'], [], '/se/Mul'),
    node('Conv', ['e', 'proj.weight'], ['c2'], [], '/proj/Conv'),
    node('Sigmoid', ['c2'], ['g2'], [], '/act2/Sigmoid'),
    node('Mul', ['c2', 'g2'], ['a2'], [], '/act2/Mul'),
    node('PRelu', ['a2', 'prelu.weight'], ['r2'], [], '/prelu/PRelu'),
    node('LeakyRelu', ['r2'], ['l2'], [af('alpha', 0.1)], '/leaky/LeakyRelu'),
    node('AveragePool', ['l2'], ['p2'], [aints('kernel_shape', [3, 3]), aints('strides', [2, 2]), aints('pads', [1, 1, 1, 1]), ai('ceil_mode', 1), ai('count_include_pad', 1)], '/pool2/AveragePool'),
    node('GlobalAveragePool', ['p2'], ['q'], [], '/gap/GlobalAveragePool'),
    node('Flatten', ['q'], ['f'], [ai('axis', 1)], '/Flatten'),
    node('Gemm', ['f', 'fc.weight', 'fc.bias'], ['logits'], [ai('transB', 1)], '/fc/Gemm'),
    node('Softmax', ['logits'], ['probs'], [ai('axis', 1)], '/Softmax'),
  ], [
    rnd('stem.weight', [8, 4, 3, 3]), rnd('stem.bias', [8], 0.5),
    rnd('se.fc1.weight', [4, 8, 1, 1], 0.8), rnd('se.fc1.bias', [4], 0.5),
    rnd('se.fc2.weight', [8, 4, 1, 1], 0.8), rnd('se.fc2.bias', [8], 0.5),
    rnd('proj.weight', [6, 8, 1, 1]), rnd('prelu.weight', [6, 1, 1], 0.2, 0.25),
    rnd('fc.weight', [5, 6], 0.8), rnd('fc.bias', [5]),
  ], { inDims: ['batch', 4, 8, 8], opset, outDims: ['batch', 5] });
}
