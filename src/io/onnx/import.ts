/**
 * ONNX → IR. Reads a ModelProto (opsets 11–18 of the default domain) into a ModelGraph + Params:
 *
 * - Conv (2-D; group, pads incl. auto_pad, strides, dilations; optional bias) → conv2d
 * - BatchNormalization (inference) → batchnorm, kept as its own node (the pruner couples conv → BN)
 * - Relu → relu; Clip(0, 6) → relu6; Clip(0, ∞) → relu; Sigmoid, HardSigmoid, HardSwish, LeakyRelu,
 *   PRelu (per-channel slope) → their IR activations; x · Sigmoid(x) → silu, x · HardSigmoid(x) → hardswish
 * - Mul of two computed tensors (equal shapes, or N×C×H×W by N×C×1×1: squeeze-and-excitation) → mul
 * - Conv 1×1 of globally pooled N×C×1×1 features → linear (the SE squeeze/excite layers)
 * - Softmax over the features of an N×F tensor → softmax
 * - Add / Sum of computed tensors of equal shape → add
 * - Add / Sub / Mul / Div by a per-channel (or scalar) constant: folded into the weights of the conv,
 *   BN or linear that produced the tensor (when nothing else reads it); ×1 and +0 are dropped
 * - Concat on the channel axis → concat
 * - MaxPool / AveragePool (symmetric pads, ceil_mode) → maxpool / avgpool
 * - GlobalAveragePool, ReduceMean over H, W → gap (N×C; only Flatten/Reshape may read its N×C×1×1 form)
 * - Flatten(axis=1), Reshape to N×features → flatten (or nothing when already flat)
 * - Gemm (alpha/beta folded, transB either way), MatMul by a constant → linear
 * - Pad with symmetric zeros on H, W → absorbed into the padding of the Conv/AveragePool reading it
 * - Identity, Dropout (inference) → dropped; Constant → constant values; Identity of a constant
 *   (PyTorch shares equal constants this way) → that constant
 * - Shape, Gather, Unsqueeze, Squeeze, Slice, Cast, Concat and Add/Sub/Mul/Div of integer constants:
 *   shape computations, folded from the static C×H×W (the dynamic batch stays symbolic, fold.ts)
 *
 * Anything else (ops, attributes or attribute values) raises an OnnxError naming the node, the op
 * and the attribute, with the supported set: no model is ever imported with different semantics.
 */
import { firstNonFinite } from '../tensor-file.js';
import { readFileSync } from 'node:fs';
import { Tensor } from '../../tensor/tensor.js';
import { GraphError, type ModelGraph, type NodeDef, type Params } from '../../ir/graph.js';
import { inferNodeShape } from '../../ir/ops.js';
import { inferShapes } from '../../ir/shapes.js';
import { poolOutSize } from '../../tensor/ops/pool.js';
import { OnnxError } from './errors.js';
import { AttributeType, DataType, decodeModelProto, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';
import { dtypeName, int64TensorProto, tensorBool, tensorDims, tensorFloats, tensorInts } from './tensors.js';
import * as fold from './fold.js';

/** ONNX ops the importer maps onto the IR. */
export const ONNX_SUPPORTED_OPS: readonly string[] = [
  'Conv', 'BatchNormalization', 'Relu', 'Clip', 'Add', 'Sum', 'Sub', 'Mul', 'Div', 'Concat', 'MaxPool', 'AveragePool',
  'GlobalAveragePool', 'ReduceMean', 'Flatten', 'Reshape', 'Gemm', 'MatMul', 'Identity', 'Dropout', 'Constant', 'Pad',
  'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Slice', 'Cast',
  'Sigmoid', 'HardSigmoid', 'HardSwish', 'LeakyRelu', 'PRelu', 'Softmax',
];

/** Default-domain opsets the importer accepts (the operator semantics above are checked for these). */
export const ONNX_OPSET_RANGE: readonly [number, number] = [11, 18];

/** Ops the IR cannot express, with the reason shown in the error. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  Tanh: 'the IR has no tanh activation',
  Elu: 'the IR has no ELU activation',
  Selu: 'the IR has no SELU activation',
  Gelu: 'the IR has no GELU activation',
  LogSoftmax: 'the IR has no log-softmax (drop it from the exported model; metaprune models end in logits)',
  ConvTranspose: 'the IR has no transposed convolution',
  Resize: 'the IR has no resize/upsample op',
  Upsample: 'the IR has no resize/upsample op',
  LayerNormalization: 'the IR has no layer normalization',
  InstanceNormalization: 'the IR has no instance normalization',
  Transpose: 'the IR has no transpose',
  Split: 'the IR has no split op',
  QuantizeLinear: 'quantized models are not supported',
  DequantizeLinear: 'quantized models are not supported',
};

export interface OnnxImportOptions {
  /** Name used in error messages, e.g. the file path (default 'ONNX model'). */
  source?: string;
  /** IR model name (default: the ONNX graph's name, or 'onnx-model'). */
  name?: string;
  /** Accept NaN/±Infinity weights (default: refuse them, naming the parameter). */
  allowNonFinite?: boolean;
}

export interface OnnxModelInfo {
  irVersion: number;
  /** Default-domain opset version. */
  opset: number;
  /** e.g. 'pytorch 1.13.0'. */
  producer: string;
  graphName: string;
  inputName: string;
  outputName: string;
  /** The declared input shape, batch first: a number, or the symbolic name of a dynamic batch ('?' when unnamed). */
  inputShape: (number | string)[];
  /** ONNX nodes whose effect was folded into parameters (Mul/Add by constants, Gemm alpha/beta). */
  folded: string[];
  /** ONNX nodes dropped as no-ops in inference (Identity, Dropout, ×1, +0, flattening of flat tensors, Constant). */
  dropped: string[];
  /** ONNX nodes that do not contribute to the graph output (skipped). */
  unused: string[];
  /** ONNX node count per op type. */
  opCounts: Record<string, number>;
  /** What a faithful round trip writes back (exportOptionsFrom in export.ts). */
  producerName: string;
  producerVersion: string;
  docString: string;
  graphDocString: string;
  metadata: { key: string; value: string }[];
}

export interface ImportedOnnx {
  graph: ModelGraph;
  params: Params;
  info: OnnxModelInfo;
}

// ----------------------------------------------------------------------------- values

interface ActValue {
  kind: 'act';
  /** IR node computing this value. */
  node: string;
  /** ONNX per-sample shape (no batch dimension). */
  shape: number[];
  /** IR per-sample shape of `node` (differs from `shape` only for the N×C×1×1 output of global pooling, or a pending Pad). */
  irShape: number[];
  /** True when this value is the IR node's own output (folding constants into its params is then possible). */
  direct: boolean;
  /** Zero padding [H, W] (each side) added by a Pad node, not yet absorbed by a Conv/AveragePool. */
  pad?: [number, number];
  /** The Pad node, for messages. */
  padNode?: string;
}

interface ConstValue {
  kind: 'const';
  tensor: TensorProto;
  /** Where it came from, for messages. */
  origin: string;
}

type Value = ActValue | ConstValue;

const fmt = (s: readonly (number | string)[]) => `[${s.join(', ')}]`;
const numel = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Shortest decimal that reads back as the same float32 (attributes are float32 on the wire: 1e-5, not 9.99999974e-6). */
export function float32Decimal(x: number): number {
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const v = Number(f.toPrecision(p));
    if (Math.fround(v) === f) return v;
  }
  return f;
}

type AttrKind = 'int' | 'float' | 'string' | 'ints' | 'floats' | 'tensor';

const ATTR_TYPE_OF: Record<AttrKind, number> = {
  int: AttributeType.INT, float: AttributeType.FLOAT, string: AttributeType.STRING, ints: AttributeType.INTS, floats: AttributeType.FLOATS, tensor: AttributeType.TENSOR,
};

const ATTR_TYPE_NAME: Record<number, string> = Object.fromEntries(Object.entries(AttributeType).map(([k, v]) => [v, k]));

class Attrs {
  private readonly map = new Map<string, AttributeProto>();

  constructor(private readonly ctx: Importer, private readonly n: NodeProto, allowed: Record<string, AttrKind>) {
    for (const a of n.attribute ?? []) {
      const name = a.name ?? '';
      const kind = allowed[name];
      if (kind === undefined) {
        const list = Object.keys(allowed);
        throw ctx.nodeError(n, `attribute '${name}' is not supported (${list.length > 0 ? `supported attributes of ${n.op_type}: ${list.join(', ')}` : `${n.op_type} takes no attributes here`})`);
      }
      if (a.ref_attr_name !== undefined && a.ref_attr_name !== '') throw ctx.nodeError(n, `attribute '${name}' refers to a function attribute; functions are not supported`);
      if (a.type !== undefined && a.type !== 0 && a.type !== ATTR_TYPE_OF[kind]) {
        throw ctx.nodeError(n, `attribute '${name}' has type ${ATTR_TYPE_NAME[a.type] ?? a.type}, expected ${kind.toUpperCase()}`);
      }
      this.map.set(name, a);
    }
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  // A present attribute with an absent value field holds the proto2 default (0, 0.0, '').
  int(name: string, dflt: number): number {
    const a = this.map.get(name);
    return a === undefined ? dflt : a.i ?? 0;
  }

  float(name: string, dflt: number): number {
    const a = this.map.get(name);
    return a === undefined ? dflt : a.f ?? 0;
  }

  string(name: string, dflt: string): string {
    const a = this.map.get(name);
    return a === undefined ? dflt : new TextDecoder().decode(a.s ?? new Uint8Array(0));
  }

  ints(name: string, dflt?: number[]): number[] | undefined {
    const a = this.map.get(name);
    return a === undefined ? dflt : [...(a.ints ?? [])];
  }

  floats(name: string): number[] | undefined {
    const a = this.map.get(name);
    return a === undefined ? undefined : [...(a.floats ?? [])];
  }

  tensor(name: string): TensorProto | undefined {
    return this.map.get(name)?.t;
  }

  /** A pair-valued attribute of a 2-D op (strides, dilations, kernel_shape). */
  pair(name: string, dflt: [number, number], positive = true): [number, number] {
    const v = this.ints(name);
    if (v === undefined) return dflt;
    if (v.length !== 2 || v.some((d) => !Number.isInteger(d) || (positive ? d < 1 : d < 0))) {
      throw this.ctx.nodeError(this.n, `attribute '${name}' = ${fmt(v)}: expected two ${positive ? 'positive' : 'non-negative'} integers (2-D op)`);
    }
    return [v[0], v[1]];
  }
}

class Importer {
  readonly values = new Map<string, Value>();
  readonly nodes: NodeDef[] = [];
  readonly params: Params = {};
  private readonly nodeByName = new Map<string, NodeDef>();
  private readonly irShapes = new Map<string, number[]>();
  private readonly usedNames = new Set<string>();
  readonly uses = new Map<string, number>();
  readonly folded: string[] = [];
  readonly dropped: string[] = [];
  opset = 0;
  batch: number | string = '?';

  constructor(readonly source: string) {}

  label(n: NodeProto): string {
    return n.name !== undefined && n.name !== '' ? n.name : `<unnamed, output '${(n.output ?? [])[0] ?? '?'}'>`;
  }

  nodeError(n: NodeProto, msg: string): OnnxError {
    return new OnnxError(`${this.source}: node '${this.label(n)}' (${n.op_type ?? '?'}): ${msg}`);
  }

  error(msg: string): OnnxError {
    return new OnnxError(`${this.source}: ${msg}`);
  }

  uniqueName(base: string): string {
    const b = base === '' ? 'node' : base;
    let name = b;
    for (let i = 2; this.usedNames.has(name); i++) name = `${b}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  /**
   * IR name for a node: the PyTorch module name when its weight is called '<module>.weight' or
   * its node name is a PyTorch scope ('/layer1/layer1.0/conv1/Conv' → 'layer1.0.conv1'), else
   * the ONNX node name (made unique).
   */
  nameFor(n: NodeProto, weightName?: string): string {
    const m = weightName !== undefined ? /^(.+)\.weight$/.exec(weightName) : null;
    if (m !== null && !this.usedNames.has(m[1])) return this.uniqueName(m[1]);
    const scoped = torchScopeName(n);
    if (scoped !== undefined) return this.uniqueName(scoped);
    if (n.name !== undefined && n.name !== '') return this.uniqueName(n.name);
    return this.uniqueName(`${(n.output ?? [])[0] ?? n.op_type ?? 'node'}`);
  }

  irNode(name: string): NodeDef {
    return this.nodeByName.get(name)!;
  }

  /** Appends an IR node; returns its per-sample output shape. */
  addNode(onnx: NodeProto | undefined, node: NodeDef): number[] {
    const ins = node.inputs.map((i) => this.shapeOfIr(i));
    let shape: number[];
    try {
      shape = inferNodeShape(node, ins);
    } catch (e) {
      if (onnx !== undefined && e instanceof GraphError) throw this.nodeError(onnx, e.message);
      throw e;
    }
    this.nodes.push(node);
    this.nodeByName.set(node.name, node);
    this.irShapes.set(node.name, shape);
    return shape;
  }

  /** Drops the last IR node (a gate fused into the op that reads it). */
  removeLast(): void {
    const node = this.nodes.pop()!;
    this.nodeByName.delete(node.name);
    this.usedNames.delete(node.name);
    this.irShapes.delete(node.name);
  }

  shapeOfIr(name: string): number[] {
    return this.irShapes.get(name)!;
  }

  /** The i-th input of n, which must be a computed tensor. */
  act(n: NodeProto, i: number, what = 'input'): ActValue {
    const name = (n.input ?? [])[i];
    if (name === undefined || name === '') throw this.nodeError(n, `${what} ${i} is missing`);
    const v = this.values.get(name);
    if (v === undefined) throw this.nodeError(n, `reads '${name}', which is not defined`);
    if (v.kind !== 'act') throw this.nodeError(n, `${what} '${name}' is a constant (${v.origin}); a computed tensor is expected (constant folding is not supported)`);
    return v;
  }

  /** The i-th input of n, which must be a constant (initializer or Constant); undefined when absent and optional. */
  constant(n: NodeProto, i: number, what: string, optional: true): ConstValue | undefined;
  constant(n: NodeProto, i: number, what: string, optional?: false): ConstValue;
  constant(n: NodeProto, i: number, what: string, optional = false): ConstValue | undefined {
    const name = (n.input ?? [])[i];
    if (name === undefined || name === '') {
      if (optional) return undefined;
      throw this.nodeError(n, `${what} (input ${i}) is missing`);
    }
    const v = this.values.get(name);
    if (v === undefined) throw this.nodeError(n, `reads '${name}', which is not defined`);
    if (v.kind !== 'const') throw this.nodeError(n, `${what} '${name}' is computed at run time; only constant ${what}s (initializers) are supported`);
    return v;
  }

  floats(n: NodeProto, c: ConstValue, what: string): Float32Array {
    try {
      return tensorFloats(c.tensor, `${what} '${c.tensor.name ?? c.origin}'`);
    } catch (e) {
      if (e instanceof OnnxError) throw this.nodeError(n, e.message);
      throw e;
    }
  }

  ints(n: NodeProto, c: ConstValue, what: string): number[] {
    try {
      return tensorInts(c.tensor, `${what} '${c.tensor.name ?? c.origin}'`);
    } catch (e) {
      if (e instanceof OnnxError) throw this.nodeError(n, e.message);
      throw e;
    }
  }

  /** Defines output `i` of n (which must be used by someone, or be the graph output, to matter). */
  define(n: NodeProto, value: Value, i = 0): void {
    const name = (n.output ?? [])[i];
    if (name === undefined || name === '') throw this.nodeError(n, `output ${i} has no name`);
    this.values.set(name, value);
  }

  /** Rejects reading extra outputs (BN training statistics, MaxPool indices, Dropout mask). */
  onlyFirstOutput(n: NodeProto, what: string): void {
    const outs = n.output ?? [];
    for (let i = 1; i < outs.length; i++) {
      if (outs[i] !== '' && (this.uses.get(outs[i]) ?? 0) > 0) throw this.nodeError(n, `output ${i} ('${outs[i]}', ${what}) is used; only the first output is supported`);
    }
  }

  /** Requires the value in its IR layout (rejects the N×C×1×1 view of a global pool, and pending Pads unless `allowPad`). */
  plain(n: NodeProto, v: ActValue, name: string, allowPad = false): void {
    if (v.pad !== undefined) {
      if (allowPad) return;
      throw this.nodeError(n, `reads '${name}', the zero-padded output of Pad '${v.padNode}'; only a Conv or AveragePool can absorb a Pad (into its own padding)`);
    }
    if (!sameShape(v.shape, v.irShape)) {
      throw this.nodeError(
        n,
        `reads '${name}' of shape [N, ${v.shape.join(', ')}] from global pooling '${v.node}'; metaprune's global pooling yields N×${v.irShape.join('×')} features, so only Flatten/Reshape to N×${numel(v.shape)} may read it`,
      );
    }
  }

  /** Output i of n is v itself (a pending Pad stays pending). */
  alias(n: NodeProto, v: ActValue, shape = v.shape, i = 0): void {
    this.define(n, { ...v, shape, direct: false }, i);
    this.dropped.push(this.label(n));
  }
}

/**
 * Module path of a PyTorch (≥ 1.13) scoped node name: '/features/features.1/conv/conv.0/conv.0.0/Conv'
 * → 'features.1.conv.0.0'. Each scope segment is a module name relative to one of the enclosing
 * modules; undefined when the name is not of that form or has no module scope ('/Relu_1').
 */
export function torchScopeName(n: NodeProto): string | undefined {
  const name = n.name ?? '';
  if (!name.startsWith('/')) return undefined;
  const segs = name.slice(1).split('/');
  const last = segs.pop()!;
  const op = n.op_type ?? '';
  const isOp = last === op || (last.startsWith(`${op}_`) && /^\d+$/.test(last.slice(op.length + 1)));
  if (!isOp || segs.length === 0 || segs.some((s) => s === '')) return undefined;
  let path: string[] = [];
  for (const s of segs) {
    let k = 0;
    for (; k < path.length; k++) if (s.startsWith(`${path.slice(k).join('.')}.`)) break;
    path = k < path.length ? [...path.slice(0, k), ...s.split('.')] : [...path, s];
  }
  return path.join('.');
}

// ----------------------------------------------------------------------------- geometry helpers

function spatialPads(c: Importer, n: NodeProto, a: Attrs, inHW: number[], kEff: [number, number], strides: [number, number]): [number, number] {
  const autoPad = a.string('auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = a.ints('pads', [0, 0, 0, 0])!;
    if (pads.length !== 4 || pads.some((p) => !Number.isInteger(p) || p < 0)) throw c.nodeError(n, `attribute 'pads' = ${fmt(pads)}: expected 4 non-negative integers (2-D op)`);
    if (pads[0] !== pads[2] || pads[1] !== pads[3]) {
      throw c.nodeError(n, `attribute 'pads' = ${fmt(pads)} is asymmetric (begin ≠ end); metaprune supports symmetric padding only`);
    }
    return [pads[0], pads[1]];
  }
  if (a.has('pads')) throw c.nodeError(n, `attributes 'auto_pad' = '${autoPad}' and 'pads' are both set`);
  if (autoPad === 'VALID') return [0, 0];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const out: number[] = [];
    for (let d = 0; d < 2; d++) {
      const total = Math.max(0, (Math.ceil(inHW[d] / strides[d]) - 1) * strides[d] + kEff[d] - inHW[d]);
      if (total % 2 !== 0) {
        throw c.nodeError(n, `attribute 'auto_pad' = '${autoPad}' needs asymmetric padding (${total} in total on axis ${d + 2} for input size ${inHW[d]}); metaprune supports symmetric padding only`);
      }
      out.push(total / 2);
    }
    return [out[0], out[1]];
  }
  throw c.nodeError(n, `attribute 'auto_pad' = '${autoPad}' is not valid (NOTSET, VALID, SAME_UPPER, SAME_LOWER)`);
}

/** Per-channel vector of a constant broadcast against an activation of per-sample shape `s`, or null when it is not per-channel. */
function perChannel(t: Float32Array, dims: number[], s: number[]): Float32Array | null {
  const full = [0, ...s];
  if (dims.length > full.length) return null;
  const C = s[0];
  for (let j = 0; j < dims.length; j++) {
    const axis = full.length - dims.length + j;
    const d = dims[j];
    if (d === 1) continue;
    if (axis !== 1 || d !== C) return null;
  }
  const out = new Float32Array(C);
  if (t.length === 1) out.fill(t[0]);
  else out.set(t);
  return out;
}

// ----------------------------------------------------------------------------- op handlers

type Handler = (c: Importer, n: NodeProto) => void;

function conv(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { auto_pad: 'string', dilations: 'ints', group: 'int', kernel_shape: 'ints', pads: 'ints', strides: 'ints' });
  const x = c.act(n, 0);
  if (pooledView(x)) return pooledConv(c, n, a, x);
  c.plain(n, x, n.input![0], true);
  if (x.shape.length !== 3) throw c.nodeError(n, `input has shape [N, ${x.shape.join(', ')}]; only 2-D convolutions (N×C×H×W) are supported`);
  const wc = c.constant(n, 1, 'weight');
  const dims = tensorDims(wc.tensor);
  if (dims.length !== 4) throw c.nodeError(n, `weight '${wc.tensor.name}' has shape ${fmt(dims)}; only 2-D convolutions (4-D weights) are supported`);
  if (dims.some((d) => d < 1)) throw c.nodeError(n, `weight '${wc.tensor.name}' has an empty dimension: ${fmt(dims)}`);
  const [O, Ig, kh, kw] = dims;
  const group = a.int('group', 1);
  if (!Number.isInteger(group) || group < 1 || O % group !== 0) throw c.nodeError(n, `attribute 'group' = ${group} does not divide the ${O} output channels`);
  if (Ig * group !== x.shape[0]) throw c.nodeError(n, `input has ${x.shape[0]} channels, but weight ${fmt(dims)} with group ${group} expects ${Ig * group}`);
  const ks = a.ints('kernel_shape');
  if (ks !== undefined && (ks.length !== 2 || ks[0] !== kh || ks[1] !== kw)) throw c.nodeError(n, `attribute 'kernel_shape' = ${fmt(ks)} does not match weight ${fmt(dims)}`);
  const stride = a.pair('strides', [1, 1]);
  const dilation = a.pair('dilations', [1, 1]);
  const own = spatialPads(c, n, a, x.shape.slice(1), [(kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1], stride);
  const padding: [number, number] = [own[0] + (x.pad?.[0] ?? 0), own[1] + (x.pad?.[1] ?? 0)];
  const weight = c.floats(n, wc, 'weight');
  const bc = c.constant(n, 2, 'bias', true);
  let bias: Float32Array | undefined;
  if (bc !== undefined) {
    bias = c.floats(n, bc, 'bias');
    if (bias.length !== O) throw c.nodeError(n, `bias '${bc.tensor.name}' has ${bias.length} values for ${O} output channels`);
  }
  const name = c.nameFor(n, wc.tensor.name);
  const shape = c.addNode(n, {
    op: 'conv2d', name, inputs: [x.node], inChannels: x.shape[0], outChannels: O, kernel: [kh, kw], stride, padding, dilation, groups: group, bias: bias !== undefined,
  });
  c.params[`${name}.weight`] = new Tensor(weight, dims);
  if (bias !== undefined) c.params[`${name}.bias`] = new Tensor(bias, [O]);
  c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
}

/**
 * A 1×1 convolution of globally pooled N×C×1×1 features (squeeze-and-excitation) is a linear layer
 * on the IR's N×C features; its output stays N×O×1×1 for the ONNX ops after it.
 */
function pooledConv(c: Importer, n: NodeProto, a: Attrs, x: ActValue): void {
  const wc = c.constant(n, 1, 'weight');
  const dims = tensorDims(wc.tensor);
  const pads = a.ints('pads', [0, 0, 0, 0])!;
  const group = a.int('group', 1);
  const autoPad = a.string('auto_pad', 'NOTSET');
  if (dims.length !== 4 || dims[2] !== 1 || dims[3] !== 1 || dims[1] !== x.shape[0] || group !== 1 || pads.some((p) => p !== 0) || (autoPad !== 'NOTSET' && autoPad !== 'VALID')) {
    throw c.nodeError(n, `reads globally pooled features [N, ${x.shape.join(', ')}]: only an ungrouped, unpadded 1×1 convolution (a linear layer) of ${x.shape[0]} channels is supported there, the weight is ${fmt(dims)} with group ${group}`);
  }
  const bc = c.constant(n, 2, 'bias', true);
  const bias = bc === undefined ? undefined : c.floats(n, bc, 'bias');
  if (bias !== undefined && bias.length !== dims[0]) throw c.nodeError(n, `bias '${bc!.tensor.name}' has ${bias.length} values for ${dims[0]} output channels`);
  linearFrom(c, n, x, wc, c.floats(n, wc, 'weight'), dims[0], dims[1], bias);
  const v = c.values.get(n.output![0]) as ActValue;
  c.define(n, { ...v, shape: [dims[0], 1, 1] });
}

function batchNorm(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { epsilon: 'float', momentum: 'float', training_mode: 'int' });
  if (a.int('training_mode', 0) !== 0) throw c.nodeError(n, `attribute 'training_mode' = ${a.int('training_mode', 0)}: only inference-mode batch norm is supported`);
  c.onlyFirstOutput(n, 'training statistics');
  const x = c.act(n, 0);
  c.plain(n, x, n.input![0]);
  const C = x.shape[0];
  const roles = ['weight', 'bias', 'running_mean', 'running_var'] as const;
  const what = ['scale', 'B', 'input_mean', 'input_var'];
  const consts = roles.map((_, i) => c.constant(n, i + 1, what[i]));
  const data = consts.map((k, i) => {
    const v = c.floats(n, k, what[i]);
    if (v.length !== C) throw c.nodeError(n, `${what[i]} '${k.tensor.name}' has ${v.length} values for ${C} channels`);
    return v;
  });
  const name = c.nameFor(n, consts[0].tensor.name);
  const eps = float32Decimal(a.float('epsilon', 1e-5));
  if (!(eps >= 0 && Number.isFinite(eps))) throw c.nodeError(n, `attribute 'epsilon' = ${eps} must be a finite non-negative number`);
  const onnxMomentum = a.float('momentum', 0.9);
  if (!(onnxMomentum >= 0 && onnxMomentum <= 1)) throw c.nodeError(n, `attribute 'momentum' = ${onnxMomentum} must be in [0, 1]`);
  const momentum = Math.min(1, Math.max(0, Number((1 - float32Decimal(onnxMomentum)).toPrecision(12)))); // ONNX: running = m·running + (1−m)·batch
  const shape = c.addNode(n, { op: 'batchnorm', name, inputs: [x.node], channels: C, eps, momentum, affine: true });
  roles.forEach((r, i) => { c.params[`${name}.${r}`] = new Tensor(data[i], [C]); });
  c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
}

/** Whether v is globally pooled features kept as N×C×1×1 (the IR holds them as N×C). */
function pooledView(v: ActValue): boolean {
  return v.pad === undefined && v.irShape.length === 1 && v.shape.length === 3 && v.shape[1] === 1 && v.shape[2] === 1;
}

/** An elementwise op on x (pooled N×C×1×1 features included: squeeze-and-excitation). */
function elementwise(c: Importer, n: NodeProto, x: ActValue, node: (name: string) => NodeDef): void {
  if (!pooledView(x)) c.plain(n, x, n.input![0]);
  const name = c.nameFor(n);
  const shape = c.addNode(n, node(name));
  c.define(n, { kind: 'act', node: name, shape: x.shape, irShape: shape, direct: true });
}

function simple(c: Importer, n: NodeProto, op: 'relu' | 'relu6' | 'sigmoid' | 'hardswish' | 'silu', x: ActValue): void {
  elementwise(c, n, x, (name) => ({ op, name, inputs: [x.node] }));
}

function sigmoidOp(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  simple(c, n, 'sigmoid', c.act(n, 0));
}

function hardSwishOp(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  simple(c, n, 'hardswish', c.act(n, 0));
}

function hardSigmoidOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { alpha: 'float', beta: 'float' });
  const x = c.act(n, 0);
  elementwise(c, n, x, (name) => ({ op: 'hardsigmoid', name, inputs: [x.node], alpha: a.float('alpha', 0.2), beta: a.float('beta', 0.5) }));
}

function leakyReluOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { alpha: 'float' });
  const x = c.act(n, 0);
  elementwise(c, n, x, (name) => ({ op: 'leakyrelu', name, inputs: [x.node], alpha: a.float('alpha', 0.01), beta: 0 }));
}

function preluOp(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  const x = c.act(n, 0);
  const k = c.constant(n, 1, 'slope');
  const v = perChannel(c.floats(n, k, 'slope'), tensorDims(k.tensor), x.shape);
  if (v === null) throw c.nodeError(n, `slope '${k.tensor.name}' of shape ${fmt(tensorDims(k.tensor))} is not one value per channel (or a scalar) of [N, ${x.shape.join(', ')}]`);
  c.plain(n, x, n.input![0]);
  const name = c.nameFor(n, k.tensor.name);
  const shape = c.addNode(n, { op: 'prelu', name, inputs: [x.node], channels: x.shape[0] });
  c.params[`${name}.weight`] = new Tensor(v, [x.shape[0]]);
  c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
}

function softmaxOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { axis: 'int' });
  const x = c.act(n, 0);
  const axis = a.int('axis', c.opset >= 13 ? -1 : 1);
  if (x.shape.length !== 1 || (axis !== 1 && axis !== -1)) {
    throw c.nodeError(n, `Softmax over axis ${axis} of [N, ${x.shape.join(', ')}]: only the softmax over the features of an N×F tensor (classifier output) is supported`);
  }
  c.plain(n, x, n.input![0]);
  elementwise(c, n, x, (name) => ({ op: 'softmax', name, inputs: [x.node] }));
}

/**
 * Product of two computed tensors: same shape, or a trunk N×C×H×W times one value per channel
 * (N×C×1×1, squeeze-and-excitation). x · sigmoid(x) becomes one silu node and x · hardsigmoid(x)
 * (alpha 1/6, beta 1/2) one hardswish node, as PyTorch exports nn.SiLU and nn.Hardswish.
 */
function mulTensors(c: Importer, n: NodeProto, a: ActValue, b: ActValue): void {
  const names = n.input ?? [];
  const fused = fuseGate(c, n, a, b, names[1]) ?? fuseGate(c, n, b, a, names[0]);
  if (fused !== undefined) return;
  const [x, s, xi] = pooledView(a) && !pooledView(b) ? [b, a, 1] : [a, b, 0];
  c.plain(n, x, names[xi]);
  if (!pooledView(s)) c.plain(n, s, names[1 - xi]);
  const perChannel = pooledView(s) && x.shape.length === 3;
  if (!sameShape(x.shape, s.shape) && !(perChannel && s.shape[0] === x.shape[0])) {
    throw c.nodeError(n, `Mul of [N, ${a.shape.join(', ')}] and [N, ${b.shape.join(', ')}]: only equal shapes or an N×C×H×W tensor times N×C×1×1 per-channel values are supported`);
  }
  elementwise(c, n, x, (name) => ({ op: 'mul', name, inputs: [x.node, s.node] }));
}

function fuseGate(c: Importer, n: NodeProto, x: ActValue, g: ActValue, gName: string): true | undefined {
  const gate = c.irNode(g.node);
  const last = c.nodes[c.nodes.length - 1];
  if (!g.direct || gate !== last || gate.inputs[0] !== x.node || (c.uses.get(gName) ?? 0) !== 1 || !sameShape(x.shape, g.shape)) return undefined;
  const isHard = gate.op === 'hardsigmoid' && Math.fround(gate.alpha) === Math.fround(1 / 6) && Math.fround(gate.beta) === 0.5;
  if (gate.op !== 'sigmoid' && !isHard) return undefined;
  c.removeLast();
  c.folded.push(c.label(n));
  simple(c, n, gate.op === 'sigmoid' ? 'silu' : 'hardswish', x);
  return true;
}

function relu(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  simple(c, n, 'relu', c.act(n, 0));
}

function clip(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  const x = c.act(n, 0);
  const scalarOf = (i: number, what: string): number | undefined => {
    const k = c.constant(n, i, what, true);
    if (k === undefined) return undefined;
    const v = c.floats(n, k, what);
    if (v.length !== 1) throw c.nodeError(n, `${what} '${k.tensor.name}' must be a scalar`);
    return v[0];
  };
  const lo = scalarOf(1, 'min');
  const hi = scalarOf(2, 'max');
  if (lo === 0 && hi === 6) return simple(c, n, 'relu6', x);
  if (lo === 0 && (hi === undefined || hi === Infinity)) return simple(c, n, 'relu', x);
  throw c.nodeError(n, `Clip(min=${lo ?? '-inf'}, max=${hi ?? 'inf'}) is not representable (supported: Clip(0, 6) → relu6, Clip(0) → relu)`);
}

function addTensors(c: Importer, n: NodeProto, xs: ActValue[]): void {
  const names = n.input ?? [];
  xs.forEach((x, i) => c.plain(n, x, names[i]));
  for (const x of xs) {
    if (!sameShape(x.shape, xs[0].shape)) {
      throw c.nodeError(n, `input shapes ${xs.map((v) => fmt(['N', ...v.shape])).join(' and ')} differ; broadcasting between computed tensors is not supported`);
    }
  }
  if (xs.length === 1) return c.alias(n, xs[0]);
  const name = c.nameFor(n);
  const shape = c.addNode(n, { op: 'add', name, inputs: xs.map((x) => x.node) });
  c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
}

/** Folds y = x·v (mul) or y = x + v (add), v per channel, into the parameters of the node producing x. */
function foldAffine(c: Importer, n: NodeProto, x: ActValue, xName: string, v: Float32Array, kind: 'mul' | 'add'): boolean {
  if (!x.direct || (c.uses.get(xName) ?? 0) !== 1) return false;
  const p = c.irNode(x.node);
  if (p.op !== 'conv2d' && p.op !== 'linear' && p.op !== 'batchnorm') return false;
  const C = p.op === 'conv2d' ? p.outChannels : p.op === 'linear' ? p.outFeatures : p.channels;
  const get = (role: string) => c.params[`${p.name}.${role}`];
  if (kind === 'mul') {
    const w = get('weight');
    const per = w.size / C;
    for (let o = 0; o < C; o++) for (let j = 0; j < per; j++) w.data[o * per + j] *= v[o];
    const hasBias = p.op === 'batchnorm' || p.bias;
    if (hasBias) {
      const b = get('bias');
      for (let o = 0; o < C; o++) b.data[o] *= v[o];
    }
  } else {
    if (p.op !== 'batchnorm' && !p.bias) {
      p.bias = true;
      c.params[`${p.name}.bias`] = new Tensor(new Float32Array(C), [C]);
    }
    const b = get('bias');
    for (let o = 0; o < C; o++) b.data[o] += v[o];
  }
  return true;
}

function binary(op: 'Add' | 'Sub' | 'Mul' | 'Div'): Handler {
  return (c, n) => {
    new Attrs(c, n, {});
    const ins = n.input ?? [];
    if (ins.length !== 2) throw c.nodeError(n, `expected 2 inputs, got ${ins.length}`);
    const vals = ins.map((name) => {
      const v = c.values.get(name);
      if (v === undefined) throw c.nodeError(n, `reads '${name}', which is not defined`);
      return v;
    });
    if (vals[0].kind === 'act' && vals[1].kind === 'act') {
      if (op === 'Mul') return mulTensors(c, n, vals[0], vals[1]);
      if (op !== 'Add') throw c.nodeError(n, `${op} of two computed tensors is not representable (only Add and Mul are)`);
      return addTensors(c, n, [vals[0], vals[1]]);
    }
    const xi = vals[0].kind === 'act' ? 0 : vals[1].kind === 'act' ? 1 : -1;
    if (xi < 0 && isIntType((vals[0] as ConstValue).tensor) && isIntType((vals[1] as ConstValue).tensor)) {
      return folding(c, n, () => fold.arith(op, intInput(c, n, 0, 'A'), intInput(c, n, 1, 'B')));
    }
    if (xi < 0) throw c.nodeError(n, `both inputs are constants; constant folding is not supported`);
    if (xi === 1 && (op === 'Sub' || op === 'Div')) throw c.nodeError(n, `${op} with a constant first operand is not representable`);
    const x = vals[xi] as ActValue;
    const k = vals[1 - xi] as ConstValue;
    const raw = c.floats(n, k, 'constant operand');
    const v = perChannel(raw, tensorDims(k.tensor), x.shape);
    const kDesc = `constant '${ins[1 - xi]}' of shape ${fmt(tensorDims(k.tensor))}`;
    if (v === null) throw c.nodeError(n, `${op} by ${kDesc} is not representable: only scalars or per-channel constants (shape [1, C, 1, 1], [C, 1, 1] or [C]) can be folded`);
    const kind = op === 'Add' || op === 'Sub' ? 'add' : 'mul';
    if (op === 'Sub') v.forEach((e, i) => { v[i] = -e; });
    if (op === 'Div') v.forEach((e, i) => { v[i] = 1 / e; });
    if (v.every((e) => e === (kind === 'add' ? 0 : 1))) return c.alias(n, x);
    if (!foldAffine(c, n, x, ins[xi], v, kind)) {
      throw c.nodeError(
        n,
        `${op} by ${kDesc} is not representable: it can only be folded into the weights of a Conv, BatchNormalization or Gemm/MatMul whose output nothing else reads, and '${ins[xi]}' is not one`,
      );
    }
    c.define(n, { ...x, direct: true });
    c.folded.push(c.label(n));
  };
}

function sum(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  addTensors(c, n, (n.input ?? []).map((_, i) => c.act(n, i)));
}

function concat(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { axis: 'int' });
  if (!a.has('axis')) throw c.nodeError(n, `attribute 'axis' is required`);
  if ((n.input ?? []).every((i) => c.values.get(i)?.kind === 'const')) {
    return folding(c, n, () => fold.concat((n.input ?? []).map((_, i) => intInput(c, n, i, 'input')), a.int('axis', 0)));
  }
  const xs = (n.input ?? []).map((_, i) => c.act(n, i));
  xs.forEach((x, i) => c.plain(n, x, n.input![i]));
  const rank = xs[0].shape.length + 1;
  const axis = a.int('axis', 1);
  if ((axis < 0 ? axis + rank : axis) !== 1) throw c.nodeError(n, `attribute 'axis' = ${axis}: only concatenation on the channel axis (1) is supported`);
  if (xs.length === 1) return c.alias(n, xs[0]);
  const name = c.nameFor(n);
  const shape = c.addNode(n, { op: 'concat', name, inputs: xs.map((x) => x.node) });
  c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
}

function pool(op: 'maxpool' | 'avgpool'): Handler {
  return (c, n) => {
    const a = new Attrs(c, n, op === 'maxpool'
      ? { auto_pad: 'string', ceil_mode: 'int', dilations: 'ints', kernel_shape: 'ints', pads: 'ints', storage_order: 'int', strides: 'ints' }
      : { auto_pad: 'string', ceil_mode: 'int', count_include_pad: 'int', kernel_shape: 'ints', pads: 'ints', strides: 'ints' });
    c.onlyFirstOutput(n, 'indices');
    const x = c.act(n, 0);
    c.plain(n, x, n.input![0], op === 'avgpool');
    if (x.shape.length !== 3) throw c.nodeError(n, `input has shape [N, ${x.shape.join(', ')}]; only 2-D pooling (N×C×H×W) is supported`);
    if (!a.has('kernel_shape')) throw c.nodeError(n, `attribute 'kernel_shape' is required`);
    const kernel = a.pair('kernel_shape', [1, 1]);
    const stride = a.pair('strides', [1, 1]);
    const dil = a.pair('dilations', [1, 1]);
    if (dil[0] !== 1 || dil[1] !== 1) throw c.nodeError(n, `attribute 'dilations' = ${fmt(dil)}: dilated pooling is not supported`);
    const own = spatialPads(c, n, a, x.shape.slice(1), kernel, stride);
    if (op === 'avgpool' && x.pad !== undefined && a.int('count_include_pad', 0) === 0 && (own[0] > 0 || own[1] > 0)) {
      throw c.nodeError(n, `combines the zero padding of Pad '${x.padNode}' with its own padding ${fmt(own)} and count_include_pad=0; not representable`);
    }
    const explicit = x.pad !== undefined;
    const padding: [number, number] = [own[0] + (x.pad?.[0] ?? 0), own[1] + (x.pad?.[1] ?? 0)];
    if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
      throw c.nodeError(n, `padding ${fmt(padding)} is more than half the kernel ${fmt(kernel)}; not supported`);
    }
    if (op === 'avgpool' && !explicit && a.int('count_include_pad', 0) === 0 && (padding[0] > 0 || padding[1] > 0)) {
      throw c.nodeError(n, `attribute 'count_include_pad' = 0 with padding ${fmt(padding)} is not supported (metaprune's average pooling counts the padding, as PyTorch's default count_include_pad=True)`);
    }
    // ceil_mode is kept only where it changes the output size (otherwise the graph is the floor-mode one)
    const ceil = a.int('ceil_mode', 0) !== 0 && [0, 1].some((d) => poolOutSize(x.irShape[d + 1], kernel[d], stride[d], padding[d], true) !== poolOutSize(x.irShape[d + 1], kernel[d], stride[d], padding[d]));
    const name = c.nameFor(n);
    const shape = c.addNode(n, { op, name, inputs: [x.node], kernel, stride, padding, ...(ceil ? { ceil } : {}) });
    c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
  };
}

function gapNode(c: Importer, n: NodeProto, x: ActValue, keepDims: boolean): void {
  c.plain(n, x, n.input![0]);
  if (x.shape.length !== 3) throw c.nodeError(n, `input has shape [N, ${x.shape.join(', ')}]; global pooling needs N×C×H×W`);
  const name = c.nameFor(n);
  const shape = c.addNode(n, { op: 'gap', name, inputs: [x.node] });
  c.define(n, { kind: 'act', node: name, shape: keepDims ? [shape[0], 1, 1] : shape, irShape: shape, direct: true });
}

function globalAveragePool(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  gapNode(c, n, c.act(n, 0), true);
}

function reduceMean(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, c.opset >= 18 ? { keepdims: 'int', noop_with_empty_axes: 'int' } : { axes: 'ints', keepdims: 'int' });
  const x = c.act(n, 0);
  let axes: number[] | undefined;
  if (c.opset >= 18) {
    const k = c.constant(n, 1, 'axes', true);
    axes = k === undefined ? undefined : c.ints(n, k, 'axes');
    if (axes === undefined && a.int('noop_with_empty_axes', 0) !== 0) return c.alias(n, x);
  } else {
    axes = a.ints('axes');
  }
  const rank = x.shape.length + 1;
  const norm = (axes ?? []).map((d) => (d < 0 ? d + rank : d)).sort();
  if (rank !== 4 || norm.length !== 2 || norm[0] !== 2 || norm[1] !== 3) {
    throw c.nodeError(n, `ReduceMean over axes ${axes === undefined ? '(all)' : fmt(axes)} of a rank-${rank} tensor: only the mean over H and W (axes [2, 3]) is supported`);
  }
  gapNode(c, n, x, a.int('keepdims', 1) !== 0);
}

/** Output of a reshape/flatten to N×F. */
function flatTo(c: Importer, n: NodeProto, x: ActValue): void {
  if (x.irShape.length === 1) return c.alias(n, x, [...x.irShape]);
  const name = c.nameFor(n);
  const shape = c.addNode(n, { op: 'flatten', name, inputs: [x.node] });
  c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
}

function flattenOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { axis: 'int' });
  const x = c.act(n, 0);
  if (x.pad !== undefined) c.plain(n, x, n.input![0]);
  const rank = x.shape.length + 1;
  const axis = a.int('axis', 1);
  if ((axis < 0 ? axis + rank : axis) !== 1) throw c.nodeError(n, `attribute 'axis' = ${axis}: only Flatten(axis=1) (to N×features) is supported`);
  flatTo(c, n, x);
}

function reshape(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { allowzero: 'int' });
  const x = c.act(n, 0);
  if (x.pad !== undefined) c.plain(n, x, n.input![0]);
  const target = c.ints(n, c.constant(n, 1, 'shape'), 'shape');
  const allowZero = a.int('allowzero', 0) !== 0;
  const F = numel(x.shape);
  const full = ['N', ...x.shape];
  const batchOk = (d: number) => (d === 0 && !allowZero) || d === -1 || d === fold.BATCH_DIM || (typeof c.batch === 'number' && d === c.batch);
  const resolve = (t: number[]): number[] | null => {
    // per-sample dims of the target, when its first dim keeps the batch
    if (t.length === 0 || !batchOk(t[0])) return null;
    const rest = t.slice(1).map((d, i) => (d === 0 && !allowZero ? x.shape[i] ?? -2 : d));
    if (rest.some((d) => d < -1 || d === -2)) return null;
    const known = numel(rest.filter((d) => d !== -1));
    const free = rest.filter((d) => d === -1).length;
    if (t[0] === -1 && free > 0) return null;
    if (free > 1) return null;
    if (free === 1) {
      if (known === 0 || F % known !== 0) return null;
      return rest.map((d) => (d === -1 ? F / known : d));
    }
    return numel(rest) === F ? rest : null;
  };
  const r = resolve(target);
  if (r !== null && x.irShape.length === 1 && r.length === 3 && r[0] === x.irShape[0] && r[1] === 1 && r[2] === 1) return c.alias(n, x, r); // features as N×C×1×1 (SE)
  if (r === null || !(r.length === 1 || sameShape(r, x.shape))) {
    throw c.nodeError(n, `Reshape of ${fmt(full)} to ${fmt(target)} is not supported: only flattening to N×${F} (shape [-1, ${F}], [0, -1] or [N, ${F}]) is`);
  }
  if (r.length === 1) return flatTo(c, n, x);
  c.alias(n, x);
}

function linearFrom(c: Importer, n: NodeProto, x: ActValue, wc: ConstValue, w: Float32Array, out: number, inF: number, bias: Float32Array | undefined): void {
  const name = c.nameFor(n, wc.tensor.name);
  const shape = c.addNode(n, { op: 'linear', name, inputs: [x.node], inFeatures: inF, outFeatures: out, bias: bias !== undefined });
  c.params[`${name}.weight`] = new Tensor(w, [out, inF]);
  if (bias !== undefined) c.params[`${name}.bias`] = new Tensor(bias, [out]);
  c.define(n, { kind: 'act', node: name, shape, irShape: shape, direct: true });
}

function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = w[i * cols + j];
  return t;
}

function featuresInput(c: Importer, n: NodeProto): ActValue {
  const x = c.act(n, 0);
  c.plain(n, x, n.input![0]);
  if (x.shape.length !== 1) throw c.nodeError(n, `input has shape [N, ${x.shape.join(', ')}]; a 2-D N×features input is needed (add Flatten before it)`);
  return x;
}

function gemm(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { alpha: 'float', beta: 'float', transA: 'int', transB: 'int' });
  if (a.int('transA', 0) !== 0) throw c.nodeError(n, `attribute 'transA' = 1 is not supported (the input must be N×features)`);
  const x = featuresInput(c, n);
  const wc = c.constant(n, 1, 'weight');
  const dims = tensorDims(wc.tensor);
  if (dims.length !== 2 || dims.some((d) => d < 1)) throw c.nodeError(n, `B '${wc.tensor.name}' has shape ${fmt(dims)}; a non-empty 2-D matrix is needed`);
  const transB = a.int('transB', 0) !== 0;
  const [out, inF] = transB ? dims : [dims[1], dims[0]];
  if (inF !== x.shape[0]) throw c.nodeError(n, `input has ${x.shape[0]} features, B ${fmt(dims)}${transB ? ' (transB=1)' : ''} expects ${inF}`);
  let w = c.floats(n, wc, 'B');
  if (!transB) w = transpose2d(w, inF, out);
  const alpha = a.float('alpha', 1), beta = a.float('beta', 1);
  if (!Number.isFinite(alpha) || !Number.isFinite(beta)) throw c.nodeError(n, `attributes 'alpha' = ${alpha} and 'beta' = ${beta} must be finite`);
  if (alpha !== 1) for (let i = 0; i < w.length; i++) w[i] *= alpha;
  const bc = c.constant(n, 2, 'C', true);
  let bias: Float32Array | undefined;
  if (bc !== undefined) {
    const raw = c.floats(n, bc, 'C');
    const bd = tensorDims(bc.tensor);
    const v = perChannel(raw, bd, [out]);
    if (v === null) throw c.nodeError(n, `C '${bc.tensor.name}' of shape ${fmt(bd)} is not a per-output bias of ${out} values`);
    if (beta !== 1) for (let i = 0; i < v.length; i++) v[i] *= beta;
    bias = v;
  }
  if (alpha !== 1 || (beta !== 1 && bias !== undefined)) c.folded.push(c.label(n));
  linearFrom(c, n, x, wc, w, out, inF, bias);
}

function matmul(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  const x = featuresInput(c, n);
  const wc = c.constant(n, 1, 'weight');
  const dims = tensorDims(wc.tensor);
  if (dims.length !== 2 || dims.some((d) => d < 1)) throw c.nodeError(n, `B '${wc.tensor.name}' has shape ${fmt(dims)}; only N×F · F×M products with a constant non-empty 2-D matrix are supported`);
  if (dims[0] !== x.shape[0]) throw c.nodeError(n, `input has ${x.shape[0]} features, B ${fmt(dims)} expects ${dims[0]}`);
  linearFrom(c, n, x, wc, transpose2d(c.floats(n, wc, 'B'), dims[0], dims[1]), dims[1], dims[0], undefined);
}

function pad(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { mode: 'string' });
  const x = c.act(n, 0);
  c.plain(n, x, n.input![0]);
  const mode = a.string('mode', 'constant');
  const rank = x.shape.length + 1;
  const pads = c.ints(n, c.constant(n, 1, 'pads'), 'pads');
  const axesC = c.constant(n, 3, 'axes', true);
  const axes = axesC === undefined ? Array.from({ length: rank }, (_, i) => i) : c.ints(n, axesC, 'axes').map((d) => (d < 0 ? d + rank : d));
  if (pads.length !== 2 * axes.length) throw c.nodeError(n, `pads ${fmt(pads)} do not match ${axes.length} axes`);
  const begin = new Array<number>(rank).fill(0), end = new Array<number>(rank).fill(0);
  axes.forEach((ax, i) => { begin[ax] = pads[i]; end[ax] = pads[i + axes.length]; });
  if (begin.every((p) => p === 0) && end.every((p) => p === 0)) return c.alias(n, x);
  const vc = c.constant(n, 2, 'constant_value', true);
  const value = vc === undefined ? 0 : c.floats(n, vc, 'constant_value')[0] ?? 0;
  if (mode !== 'constant' || value !== 0) throw c.nodeError(n, `Pad with mode '${mode}' and value ${value} is not representable (only zero padding absorbed by the next Conv/AveragePool is)`);
  if (rank !== 4 || begin[0] !== 0 || end[0] !== 0 || begin[1] !== 0 || end[1] !== 0 || begin[2] !== end[2] || begin[3] !== end[3] || begin.some((p) => p < 0)) {
    throw c.nodeError(n, `pads ${fmt(pads)} are not representable (only symmetric non-negative zero padding of H and W, absorbed by the next Conv/AveragePool)`);
  }
  const p: [number, number] = [begin[2], begin[3]];
  c.define(n, { kind: 'act', node: x.node, shape: [x.shape[0], x.shape[1] + 2 * p[0], x.shape[2] + 2 * p[1]], irShape: x.irShape, direct: false, pad: p, padNode: c.label(n) });
  c.folded.push(c.label(n));
}

function identity(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  const v = c.values.get((n.input ?? [])[0] ?? '');
  if (v?.kind === 'const') { // PyTorch's exporter shares equal constants through Identity nodes
    c.define(n, v);
    c.dropped.push(c.label(n));
    return;
  }
  c.alias(n, c.act(n, 0));
}

function dropout(c: Importer, n: NodeProto): void {
  new Attrs(c, n, c.opset >= 12 ? { seed: 'int' } : { ratio: 'float', seed: 'int' }); // opset 11 has the ratio as an attribute
  c.onlyFirstOutput(n, 'mask');
  const tm = c.constant(n, 2, 'training_mode', true);
  if (tm !== undefined && tensorBool(tm.tensor, 'training_mode')) throw c.nodeError(n, `training_mode is true; only inference-mode Dropout (a no-op) is supported`);
  c.alias(n, c.act(n, 0));
}

function constant(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { value: 'tensor', value_float: 'float', value_floats: 'floats', value_int: 'int', value_ints: 'ints' });
  const name = (n.output ?? [])[0] ?? '';
  let t: TensorProto | undefined = a.tensor('value');
  if (t === undefined && a.has('value_float')) t = { name, dims: [], data_type: DataType.FLOAT, float_data: [a.float('value_float', 0)] };
  if (t === undefined && a.has('value_floats')) { const f = a.floats('value_floats')!; t = { name, dims: [f.length], data_type: DataType.FLOAT, float_data: f }; }
  if (t === undefined && a.has('value_int')) t = { name, dims: [], data_type: DataType.INT64, int64_data: [a.int('value_int', 0)] };
  if (t === undefined && a.has('value_ints')) { const v = a.ints('value_ints')!; t = { name, dims: [v.length], data_type: DataType.INT64, int64_data: v }; }
  if (t === undefined) throw c.nodeError(n, `has no value attribute`);
  c.define(n, { kind: 'const', tensor: { ...t, name: t.name || name }, origin: `Constant node '${c.label(n)}'` });
  c.dropped.push(c.label(n));
}

// ----------------------------------------------------------------------------- shape computation (folded)

const isIntType = (t: TensorProto) => t.data_type === DataType.INT64 || t.data_type === DataType.INT32;

/** The i-th input of n as an integer constant (a shape, indices, axes). */
function intInput(c: Importer, n: NodeProto, i: number, what: string): fold.IntTensor {
  const k = c.constant(n, i, what);
  return { dims: tensorDims(k.tensor), data: c.ints(n, k, what) };
}

/** Runs a fold, turning its errors into errors naming the node. */
function folding(c: Importer, n: NodeProto, f: () => fold.IntTensor): void {
  let t: fold.IntTensor;
  try {
    t = f();
  } catch (e) {
    if (e instanceof fold.FoldError) throw c.nodeError(n, `cannot fold this shape computation: ${e.message}`);
    throw e;
  }
  const name = (n.output ?? [])[0] ?? '';
  c.define(n, { kind: 'const', tensor: int64TensorProto(name, t.dims, t.data), origin: `shape computation '${c.label(n)}'` });
  c.dropped.push(c.label(n));
}

/** Axes of Unsqueeze/Squeeze/ReduceX: an attribute before opset 13, an input from 13 on. */
function axesOf(c: Importer, n: NodeProto, a: Attrs): number[] | undefined {
  if (c.opset < 13) return a.ints('axes');
  const k = c.constant(n, 1, 'axes', true);
  return k === undefined ? undefined : c.ints(n, k, 'axes');
}

function shapeOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { start: 'int', end: 'int' });
  const x = c.act(n, 0);
  folding(c, n, () => fold.shapeOf(x.shape, a.int('start', 0), a.has('end') ? a.int('end', 0) : undefined));
}

function gatherOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { axis: 'int' });
  const v = c.values.get((n.input ?? [])[0] ?? '');
  if (v?.kind === 'act') throw c.nodeError(n, `Gather of a computed tensor is not representable (only shape computations, folded at import, are)`);
  folding(c, n, () => fold.gather(intInput(c, n, 0, 'data'), intInput(c, n, 1, 'indices'), a.int('axis', 0)));
}

function unsqueezeOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, c.opset < 13 ? { axes: 'ints' } : {});
  const axes = axesOf(c, n, a);
  if (axes === undefined) throw c.nodeError(n, `axes are required`);
  folding(c, n, () => fold.unsqueeze(intInput(c, n, 0, 'data'), axes));
}

function squeezeOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, c.opset < 13 ? { axes: 'ints' } : {});
  const v = c.values.get((n.input ?? [])[0] ?? '');
  const axes = axesOf(c, n, a);
  if (v?.kind === 'act') {
    // N×C×1×1 → N×C after global pooling is the IR's own layout of pooled features
    const rank = v.shape.length + 1;
    const norm = (axes ?? [2, 3]).map((d) => (d < 0 ? d + rank : d)).sort();
    if (v.irShape.length === 1 && v.shape.length === 3 && norm.length === 2 && norm[0] === 2 && norm[1] === 3) return c.alias(n, v, [...v.irShape]);
    throw c.nodeError(n, `Squeeze of [N, ${v.shape.join(', ')}] on axes ${axes === undefined ? '(all 1s)' : fmt(axes)}: only squeezing globally pooled N×C×1×1 features to N×C is supported`);
  }
  folding(c, n, () => fold.squeeze(intInput(c, n, 0, 'data'), axes));
}

function sliceOp(c: Importer, n: NodeProto): void {
  new Attrs(c, n, {});
  const v = c.values.get((n.input ?? [])[0] ?? '');
  if (v?.kind === 'act') throw c.nodeError(n, `Slice of a computed tensor is not representable (only shape computations, folded at import, are)`);
  const opt = (i: number, what: string) => (c.constant(n, i, what, true) === undefined ? undefined : intInput(c, n, i, what).data);
  folding(c, n, () => fold.slice(intInput(c, n, 0, 'data'), intInput(c, n, 1, 'starts').data, intInput(c, n, 2, 'ends').data, opt(3, 'axes'), opt(4, 'steps')));
}

function castOp(c: Importer, n: NodeProto): void {
  const a = new Attrs(c, n, { to: 'int', saturate: 'int' });
  const v = c.values.get((n.input ?? [])[0] ?? '');
  const to = a.int('to', 0);
  if (v?.kind === 'const' && isIntType(v.tensor) && (to === DataType.INT64 || to === DataType.INT32)) return folding(c, n, () => intInput(c, n, 0, 'input'));
  if (v?.kind === 'act' && to === DataType.FLOAT) return c.alias(n, v);
  throw c.nodeError(n, `Cast to ${dtypeName(to)} is not representable (metaprune computes in float32; only integer shape computations are folded)`);
}

const HANDLERS: Record<string, Handler> = {
  Conv: conv, BatchNormalization: batchNorm, Relu: relu, Clip: clip, Add: binary('Add'), Sub: binary('Sub'), Mul: binary('Mul'), Div: binary('Div'),
  Sum: sum, Concat: concat, MaxPool: pool('maxpool'), AveragePool: pool('avgpool'), GlobalAveragePool: globalAveragePool, ReduceMean: reduceMean,
  Flatten: flattenOp, Reshape: reshape, Gemm: gemm, MatMul: matmul, Identity: identity, Dropout: dropout, Constant: constant, Pad: pad,
  Sigmoid: sigmoidOp, HardSigmoid: hardSigmoidOp, HardSwish: hardSwishOp, LeakyRelu: leakyReluOp, PRelu: preluOp, Softmax: softmaxOp,
  Shape: shapeOp, Gather: gatherOp, Unsqueeze: unsqueezeOp, Squeeze: squeezeOp, Slice: sliceOp, Cast: castOp,
};

// ----------------------------------------------------------------------------- model level

function describeDims(v: ValueInfoProto): (number | string)[] {
  return (v.type?.tensor_type?.shape?.dim ?? []).map((d) => (d.dim_value !== undefined && d.dim_value > 0 ? d.dim_value : d.dim_param !== undefined && d.dim_param !== '' ? d.dim_param : '?'));
}

function opsetOf(m: ModelProto, source: string): number {
  const def = (m.opset_import ?? []).find((o) => o.domain === undefined || o.domain === '' || o.domain === 'ai.onnx');
  if (def === undefined) throw new OnnxError(`${source}: the model imports no default-domain (ai.onnx) opset`);
  const v = def.version ?? 0;
  const [lo, hi] = ONNX_OPSET_RANGE;
  if (v < lo || v > hi) throw new OnnxError(`${source}: opset ${v} is not supported (metaprune reads opsets ${lo}–${hi}; convert the model with onnx.version_converter or re-export it)`);
  return v;
}

/** Nodes that contribute to `output`, in a topological order (stable for already sorted graphs). */
function liveNodesSorted(c: Importer, nodes: NodeProto[], available: Set<string>, output: string): { live: NodeProto[]; unused: NodeProto[] } {
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) {
    for (const o of n.output ?? []) {
      if (o === '') continue;
      if (producer.has(o) || available.has(o)) throw c.nodeError(n, `output '${o}' is defined more than once`);
      producer.set(o, n);
    }
  }
  const live = new Set<NodeProto>();
  const stack = [output];
  while (stack.length > 0) {
    const v = stack.pop()!;
    const p = producer.get(v);
    if (p === undefined || live.has(p)) continue;
    live.add(p);
    for (const i of p.input ?? []) if (i !== '') stack.push(i);
  }
  if (!producer.has(output) && !available.has(output)) throw c.error(`graph output '${output}' is not produced by any node`);
  const ready = new Set(available);
  const pending = nodes.filter((n) => live.has(n));
  const sorted: NodeProto[] = [];
  while (pending.length > 0) {
    const before = pending.length;
    for (let i = 0; i < pending.length; ) {
      const n = pending[i];
      if ((n.input ?? []).every((x) => x === '' || ready.has(x))) {
        sorted.push(n);
        for (const o of n.output ?? []) if (o !== '') ready.add(o);
        pending.splice(i, 1);
      } else i++;
    }
    if (pending.length === before) {
      const n = pending[0];
      const missing = (n.input ?? []).find((x) => x !== '' && !ready.has(x) && !producer.has(x));
      if (missing !== undefined) throw c.nodeError(n, `reads '${missing}', which no node, initializer or graph input defines`);
      throw c.nodeError(n, `is part of a cycle`);
    }
  }
  return { live: sorted, unused: nodes.filter((n) => !live.has(n)) };
}

/** Converts a decoded ModelProto into the IR. */
export function modelProtoToIr(m: ModelProto, opts: OnnxImportOptions = {}): ImportedOnnx {
  const source = opts.source ?? 'ONNX model';
  const c = new Importer(source);
  c.opset = opsetOf(m, source);
  const g = m.graph!;
  if ((g.sparse_initializer?.length ?? 0) > 0) throw c.error('sparse initializers are not supported');

  // Initializers (older exporters also list them as graph inputs).
  const inits = new Set<string>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    if (name === '') throw c.error('an initializer has no name');
    inits.add(name);
    c.values.set(name, { kind: 'const', tensor: t, origin: 'initializer' });
  }
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name ?? ''));
  if (inputs.length !== 1) {
    throw c.error(`the graph has ${inputs.length} inputs (${inputs.map((v) => `'${v.name}'`).join(', ') || 'none'}); metaprune models take exactly one image (or feature) input`);
  }
  const outputs = g.output ?? [];
  if (outputs.length !== 1) throw c.error(`the graph has ${outputs.length} outputs (${outputs.map((v) => `'${v.name}'`).join(', ')}); metaprune models have exactly one output`);
  const inp = inputs[0];
  const inName = inp.name ?? '';
  const tt = inp.type?.tensor_type;
  if (tt === undefined) throw c.error(`input '${inName}' is not a tensor`);
  if (tt.elem_type !== DataType.FLOAT) throw c.error(`input '${inName}' has element type ${dtypeName(tt.elem_type)}; only float32 inputs are supported`);
  const dims = tt.shape?.dim;
  const shown = describeDims(inp);
  if (dims === undefined) throw c.error(`input '${inName}' has no declared shape; metaprune needs a static C×H×W input shape (export with a fixed input size)`);
  if (dims.length !== 4 && dims.length !== 2) throw c.error(`input '${inName}' has shape ${fmt(shown)}; an N×C×H×W (or N×features) input is needed`);
  const perSample: number[] = [];
  dims.forEach((d, i) => {
    if (i === 0) return;
    if (d.dim_value === undefined || d.dim_value <= 0) {
      throw c.error(
        `input '${inName}' has a dynamic dimension ${d.dim_param ? `'${d.dim_param}'` : '(unknown)'} at axis ${i} (shape ${fmt(shown)}); ` +
          'metaprune needs a static C×H×W input shape: export the model with a fixed input size (dynamic axes only on the batch dimension)',
      );
    }
    perSample.push(d.dim_value);
  });
  c.batch = shown[0];

  // The IR input node.
  const inNodeName = c.uniqueName(inName === '' ? 'input' : inName);
  c.addNode(undefined, { op: 'input', name: inNodeName, inputs: [], shape: perSample });
  c.values.set(inName, { kind: 'act', node: inNodeName, shape: perSample, irShape: perSample, direct: true });

  const outName = outputs[0].name ?? '';
  const { live, unused } = liveNodesSorted(c, g.node ?? [], new Set([...inits, inName]), outName);
  for (const n of live) for (const i of n.input ?? []) if (i !== '') c.uses.set(i, (c.uses.get(i) ?? 0) + 1);
  c.uses.set(outName, (c.uses.get(outName) ?? 0) + 1);

  const opCounts: Record<string, number> = {};
  for (const n of g.node ?? []) opCounts[n.op_type ?? '?'] = (opCounts[n.op_type ?? '?'] ?? 0) + 1;

  for (const n of live) {
    const domain = n.domain ?? '';
    const op = n.op_type ?? '';
    if (domain !== '' && domain !== 'ai.onnx') {
      throw c.nodeError(n, `op '${op}' of domain '${domain}' is not supported (only the default ai.onnx domain; supported ops: ${ONNX_SUPPORTED_OPS.join(', ')})`);
    }
    const h = HANDLERS[op];
    if (h === undefined) {
      const why = KNOWN_UNSUPPORTED[op];
      throw c.nodeError(n, `unsupported op '${op}'${why !== undefined ? ` (${why})` : ''}; supported ops: ${ONNX_SUPPORTED_OPS.join(', ')}`);
    }
    h(c, n);
  }

  const out = c.values.get(outName);
  if (out === undefined || out.kind !== 'act') throw c.error(`graph output '${outName}' is ${out === undefined ? 'not computed' : 'a constant'}`);
  if (!sameShape(out.shape, out.irShape)) {
    throw c.error(`graph output '${outName}' has shape [N, ${out.shape.join(', ')}] (global pooling kept as N×C×1×1); metaprune's global pooling yields N×${out.irShape.join('×')}: add a Flatten before the output`);
  }
  const declared = describeDims(outputs[0]).slice(1);
  if (declared.length > 0 && (declared.length !== out.shape.length || declared.some((d, i) => typeof d === 'number' && d !== out.shape[i]))) {
    throw c.error(`graph output '${outName}' is declared as [N, ${declared.join(', ')}], but the imported graph computes [N, ${out.shape.join(', ')}]`);
  }
  const graph: ModelGraph = { name: opts.name ?? (g.name !== undefined && g.name !== '' ? g.name : 'onnx-model'), nodes: c.nodes, output: out.node };
  try {
    inferShapes(graph);
  } catch (e) {
    throw c.error(`the imported graph is invalid: ${(e as Error).message}`);
  }
  const info: OnnxModelInfo = {
    irVersion: m.ir_version ?? 0,
    opset: c.opset,
    producer: `${m.producer_name ?? ''} ${m.producer_version ?? ''}`.trim(),
    graphName: g.name ?? '',
    inputName: inName,
    outputName: outName,
    inputShape: shown,
    folded: c.folded,
    dropped: c.dropped,
    unused: unused.map((n) => c.label(n)),
    opCounts,
    producerName: m.producer_name ?? '',
    producerVersion: m.producer_version ?? '',
    docString: m.doc_string ?? '',
    graphDocString: g.doc_string ?? '',
    metadata: (m.metadata_props ?? []).map((e) => ({ key: e.key ?? '', value: e.value ?? '' })),
  };
  if (!opts.allowNonFinite) {
    for (const [name, t] of Object.entries(c.params)) {
      const bad = firstNonFinite(t.data);
      if (bad >= 0) throw c.error(`weight '${name}' holds ${t.data[bad]} at element ${bad}; refusing non-finite weights (allow them with --allow-nonfinite)`);
    }
  }
  return { graph, params: c.params, info };
}

/** Imports an ONNX model from its bytes. */
export function importOnnx(bytes: Uint8Array, opts: OnnxImportOptions = {}): ImportedOnnx {
  const m = decodeModelProto(bytes, opts.source ?? 'ONNX model');
  return modelProtoToIr(m, opts);
}

/** Imports an ONNX model file; errors name the file. */
export function loadOnnx(path: string, opts: Omit<OnnxImportOptions, 'source'> = {}): ImportedOnnx {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OnnxError(`${path}: ${code === 'ENOENT' ? 'not found' : `cannot be read (${(e as Error).message})`}`);
  }
  return importOnnx(bytes, { ...opts, source: path });
}

