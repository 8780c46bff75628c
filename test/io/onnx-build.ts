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
