/**
 * IR → ONNX. Writes a model (pruned or not) with the ops the importer reads, following the ONNX
 * checker's conventions: nodes in topological order, unique node and value names, one declared
 * float input N×C×H×W and one output with shapes (batch symbolic 'N' or fixed), intermediate
 * value_info shapes, a default-domain opset import and every parameter as a float32 initializer
 * named as in the IR (`<node>.weight`, ...), so export → import gives back the same graph.
 *
 * IR op → ONNX: conv2d → Conv, batchnorm → BatchNormalization, linear → Gemm(transB=1),
 * maxpool/avgpool → MaxPool/AveragePool(count_include_pad=1), gap → GlobalAveragePool + Flatten,
 * flatten → Flatten(axis=1), concat → Concat(axis=1), add → Add (Sum for 3+ inputs), relu → Relu,
 * relu6 → Clip(0, 6), identity → Identity, sigmoid → Sigmoid, hardsigmoid → HardSigmoid,
 * hardswish → HardSwish (opset ≥ 14; before, x · HardSigmoid(x) as PyTorch writes it), silu →
 * x · Sigmoid(x), leakyrelu → LeakyRelu, prelu → PRelu (slope C×1×1), mul → Mul (a per-channel
 * scale reshaped to N×C×1×1 first), softmax → Softmax(axis=1); ceil-mode pools get ceil_mode=1.
 */
import { GraphError, indexGraph, inputNode, paramNames, paramShapes, type ModelGraph, type NodeDef, type Params } from '../../ir/graph.js';
import { inferShapes } from '../../ir/shapes.js';
import { writeFileAtomic } from '../atomic.js';
import { OnnxError } from './errors.js';
import { AttributeType, DataType, encodeModelProto, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';
import { floatTensorProto, int64TensorProto } from './tensors.js';
import { ONNX_OPSET_RANGE, type OnnxModelInfo } from './import.js';

export interface OnnxExportOptions {
  /** Default-domain opset version, 11–18 (default 13). */
  opset?: number;
  /** Batch dimension of the input and output: a symbolic name (default 'N') or a fixed size such as 1. */
  batch?: number | string;
  /** Per-sample input shape (default: the graph's input shape). */
  inputShape?: number[];
  /** ONNX graph name (default: the IR model name). */
  graphName?: string;
  /** Also declare the shapes of intermediate values (value_info; default true). */
  valueInfo?: boolean;
  /** Written to ModelProto.producer_name (default 'metaprune') and producer_version. */
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graphDocString?: string;
  /** ModelProto.metadata_props. */
  metadata?: readonly { key: string; value: string }[];
  /** Names of the graph input and output values (default: the IR node names). */
  inputName?: string;
  outputName?: string;
}

/**
 * Export options that keep what an imported model declared: input and output names, batch
 * dimension, opset, producer, doc strings and metadata (a pruned model drops into the same pipeline).
 */
export function exportOptionsFrom(info: OnnxModelInfo): OnnxExportOptions {
  return {
    opset: Math.min(Math.max(info.opset, ONNX_OPSET_RANGE[0]), ONNX_OPSET_RANGE[1]),
    batch: info.inputShape[0] === '?' ? 'N' : info.inputShape[0],
    graphName: info.graphName,
    inputName: info.inputName,
    outputName: info.outputName,
    ...(info.producerName !== '' ? { producerName: info.producerName } : {}),
    ...(info.producerVersion !== '' ? { producerVersion: info.producerVersion } : {}),
    ...(info.docString !== '' ? { docString: info.docString } : {}),
    ...(info.graphDocString !== '' ? { graphDocString: info.graphDocString } : {}),
    metadata: info.metadata,
  };
}

/** Lowest IR version for each opset (onnx/helper.py's VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  return 8;
}

const attrInts = (name: string, ints: readonly number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: [...ints] });
const attrInt = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
const attrFloat = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });

function valueInfo(name: string, batch: number | string, shape: readonly number[]): ValueInfoProto {
  const b = typeof batch === 'number' ? { dim_value: batch } : { dim_param: batch };
  return { name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [b, ...shape.map((d) => ({ dim_value: d }))] } } } };
}

/** Builds the ModelProto of an IR graph and its parameters. */
export function irToModelProto(graph: ModelGraph, params: Params, opts: OnnxExportOptions = {}): ModelProto {
  const opset = opts.opset ?? 13;
  const [lo, hi] = ONNX_OPSET_RANGE;
  if (!Number.isInteger(opset) || opset < lo || opset > hi) throw new OnnxError(`cannot export '${graph.name}': opset ${opset} is not supported (choose ${lo}–${hi})`);
  const batch = opts.batch ?? 'N';
  if (typeof batch === 'number' ? !(Number.isInteger(batch) && batch >= 1) : batch === '') {
    throw new OnnxError(`cannot export '${graph.name}': batch must be a positive integer or a symbolic name, got '${batch}'`);
  }
  let shapes: Map<string, number[]>;
  try {
    indexGraph(graph);
    shapes = inferShapes(graph, opts.inputShape);
  } catch (e) {
    if (e instanceof GraphError) throw new OnnxError(`cannot export '${graph.name}': ${e.message}`);
    throw e;
  }
  const inp = inputNode(graph);

  // Initializers first: their names are reserved.
  const used = new Set<string>();
  const uniq = (base: string): string => {
    let n = base;
    for (let i = 2; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };
  const initializers: TensorProto[] = [];
  const ownParams = new Map<string, Record<string, string>>();
  for (const n of graph.nodes) {
    const need = paramShapes(n);
    const names: Record<string, string> = {};
    for (const { role, name } of paramNames(n)) {
      const t = params[name];
      const shape = need[name];
      if (t === undefined) throw new OnnxError(`cannot export '${graph.name}': parameter '${name}' of node '${n.name}' (${n.op}) is missing`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new OnnxError(`cannot export '${graph.name}': parameter '${name}' has shape [${t.shape.join(', ')}], node '${n.name}' (${n.op}) needs [${shape.join(', ')}]`);
      }
      names[role] = uniq(name);
      // ONNX PRelu broadcasts its slope from the right: per-channel slopes of a C×H×W input are C×1×1
      const dims = n.op === 'prelu' && shapes.get(n.inputs[0])!.length === 3 ? [...t.shape, 1, 1] : t.shape;
      initializers.push(floatTensorProto(names[role], dims, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data)));
    }
    if (n.op === 'batchnorm' && !n.affine) {
      // ONNX BatchNormalization always has scale and bias: write ones and zeros.
      names.weight = uniq(`${n.name}.weight`);
      names.bias = uniq(`${n.name}.bias`);
      initializers.push(floatTensorProto(names.weight, [n.channels], new Float32Array(n.channels).fill(1)));
      initializers.push(floatTensorProto(names.bias, [n.channels], new Float32Array(n.channels)));
    }
    ownParams.set(n.name, names);
  }
  let clipMin: string | undefined, clipMax: string | undefined;
  if (graph.nodes.some((n) => n.op === 'relu6')) {
    clipMin = uniq('relu6.min');
    clipMax = uniq('relu6.max');
    initializers.push(floatTensorProto(clipMin, [], [0]), floatTensorProto(clipMax, [], [6]));
  }

  let perChannelShape: string | undefined;
  if (graph.nodes.some((n) => n.op === 'mul' && shapes.get(n.inputs[1])!.length < shapes.get(n.inputs[0])!.length)) {
    perChannelShape = uniq('per_channel.shape');
    initializers.push(int64TensorProto(perChannelShape, [4], [0, -1, 1, 1]));
  }

  // Value names: the IR node names (unique already; renamed only on a clash with an initializer).
  const valueOf = new Map<string, string>();
  if (opts.inputName !== undefined && opts.inputName !== '') valueOf.set(inp.name, uniq(opts.inputName));
  if (opts.outputName !== undefined && opts.outputName !== '' && graph.output !== inp.name) valueOf.set(graph.output, uniq(opts.outputName));
  for (const n of graph.nodes) if (!valueOf.has(n.name)) valueOf.set(n.name, uniq(n.name));
  const nodeNames = new Set<string>(graph.nodes.map((n) => n.name));
  const nodeName = (base: string): string => {
    let n = base;
    for (let i = 2; nodeNames.has(n); i++) n = `${base}_${i}`;
    nodeNames.add(n);
    return n;
  };

  const nodes: NodeProto[] = [];
  const extraInfo: ValueInfoProto[] = [];
  const emit = (n: NodeDef, op: string, inputs: string[], attribute: AttributeProto[] = [], output = valueOf.get(n.name)!, name = n.name) => {
    nodes.push({ name, op_type: op, domain: '', input: inputs, output: [output], attribute });
  };
  for (const n of graph.nodes) {
    const xs = n.inputs.map((i) => valueOf.get(i)!);
    const p = ownParams.get(n.name)!;
    switch (n.op) {
      case 'input':
        break;
      case 'conv2d':
        emit(n, 'Conv', [xs[0], p.weight, ...(n.bias ? [p.bias] : [])], [
          attrInts('dilations', n.dilation), attrInt('group', n.groups), attrInts('kernel_shape', n.kernel),
          attrInts('pads', [n.padding[0], n.padding[1], n.padding[0], n.padding[1]]), attrInts('strides', n.stride),
        ]);
        break;
      case 'batchnorm':
        emit(n, 'BatchNormalization', [xs[0], p.weight, p.bias, p.running_mean, p.running_var], [
          attrFloat('epsilon', n.eps), attrFloat('momentum', 1 - n.momentum),
        ]);
        break;
      case 'linear':
        emit(n, 'Gemm', [xs[0], p.weight, ...(n.bias ? [p.bias] : [])], [attrInt('transB', 1)]);
        break;
      case 'maxpool':
      case 'avgpool':
        emit(n, n.op === 'maxpool' ? 'MaxPool' : 'AveragePool', [xs[0]], [
          attrInts('kernel_shape', n.kernel), attrInts('pads', [n.padding[0], n.padding[1], n.padding[0], n.padding[1]]), attrInts('strides', n.stride),
          ...(n.op === 'avgpool' ? [attrInt('count_include_pad', 1)] : []), ...(n.ceil === true ? [attrInt('ceil_mode', 1)] : []),
        ]);
        break;
      case 'gap': {
        const pooled = uniq(`${valueOf.get(n.name)!}.pooled`);
        emit(n, 'GlobalAveragePool', [xs[0]], [], pooled);
        emit(n, 'Flatten', [pooled], [attrInt('axis', 1)], valueOf.get(n.name)!, nodeName(`${n.name}.flatten`));
        extraInfo.push(valueInfo(pooled, batch, [...shapes.get(n.name)!, 1, 1]));
        break;
      }
      case 'flatten':
        emit(n, 'Flatten', [xs[0]], [attrInt('axis', 1)]);
        break;
      case 'concat':
        emit(n, 'Concat', xs, [attrInt('axis', 1)]);
        break;
      case 'add':
        emit(n, xs.length === 2 ? 'Add' : xs.length === 1 ? 'Identity' : 'Sum', xs);
        break;
      case 'relu':
        emit(n, 'Relu', xs);
        break;
      case 'relu6':
        emit(n, 'Clip', [xs[0], clipMin!, clipMax!]);
        break;
      case 'identity':
        emit(n, 'Identity', xs);
        break;
      case 'sigmoid':
        emit(n, 'Sigmoid', xs);
        break;
      case 'hardsigmoid':
        emit(n, 'HardSigmoid', xs, [attrFloat('alpha', n.alpha), attrFloat('beta', n.beta)]);
        break;
      case 'leakyrelu':
        emit(n, 'LeakyRelu', xs, [attrFloat('alpha', n.alpha)]);
        break;
      case 'hardswish':
      case 'silu': {
        if (n.op === 'hardswish' && opset >= 14) {
          emit(n, 'HardSwish', xs);
          break;
        }
        const gate = uniq(`${valueOf.get(n.name)!}.gate`);
        if (n.op === 'silu') emit(n, 'Sigmoid', xs, [], gate, nodeName(`${n.name}.sigmoid`));
        else emit(n, 'HardSigmoid', xs, [attrFloat('alpha', 1 / 6), attrFloat('beta', 0.5)], gate, nodeName(`${n.name}.hardsigmoid`));
        emit(n, 'Mul', [xs[0], gate]);
        extraInfo.push(valueInfo(gate, batch, shapes.get(n.name)!));
        break;
      }
      case 'prelu':
        emit(n, 'PRelu', [xs[0], p.weight]);
        break;
      case 'mul': {
        const sShape = shapes.get(n.inputs[1])!;
        if (sShape.length < shapes.get(n.inputs[0])!.length) {
          const s4 = uniq(`${xs[1]}.per_channel`);
          emit(n, 'Reshape', [xs[1], perChannelShape!], [], s4, nodeName(`${n.name}.reshape`));
          extraInfo.push(valueInfo(s4, batch, [sShape[0], 1, 1]));
          emit(n, 'Mul', [xs[0], s4]);
        } else emit(n, 'Mul', xs);
        break;
      }
      case 'softmax':
        emit(n, 'Softmax', xs, [attrInt('axis', 1)]);
        break;
    }
  }
  const inShape = shapes.get(inp.name)!;
  const outShape = shapes.get(graph.output)!;
  const info = (opts.valueInfo ?? true)
    ? [...graph.nodes.filter((n) => n.op !== 'input' && n.name !== graph.output).map((n) => valueInfo(valueOf.get(n.name)!, batch, shapes.get(n.name)!)), ...extraInfo]
    : [];
  return {
    ir_version: irVersionFor(opset),
    opset_import: [{ domain: '', version: opset }],
    producer_name: opts.producerName ?? 'metaprune',
    ...(opts.producerVersion !== undefined ? { producer_version: opts.producerVersion } : {}),
    ...(opts.docString !== undefined ? { doc_string: opts.docString } : {}),
    ...(opts.metadata !== undefined && opts.metadata.length > 0 ? { metadata_props: opts.metadata.map((e) => ({ key: e.key, value: e.value })) } : {}),
    graph: {
      name: opts.graphName ?? graph.name,
      ...(opts.graphDocString !== undefined ? { doc_string: opts.graphDocString } : {}),
      node: nodes,
      initializer: initializers,
      input: [valueInfo(valueOf.get(inp.name)!, batch, inShape)],
      output: [valueInfo(valueOf.get(graph.output)!, batch, outShape)],
      value_info: info,
    },
  };
}

/** Serializes an IR model to ONNX bytes. */
export function exportOnnx(graph: ModelGraph, params: Params, opts: OnnxExportOptions = {}): Uint8Array {
  return encodeModelProto(irToModelProto(graph, params, opts));
}

/** Writes an IR model as an .onnx file (atomically). */
export function saveOnnx(path: string, graph: ModelGraph, params: Params, opts: OnnxExportOptions = {}): void {
  writeFileAtomic(path, exportOnnx(graph, params, opts));
}
