/**
 * ONNX protobuf messages: typed views of the subset of onnx.proto that metaprune reads and writes,
 * decoded and encoded by protobufjs from the schema generated out of the official onnx.proto
 * (see generate-schema.mjs). Field names are the .proto's (snake_case); int64 fields are plain
 * numbers (ONNX dims and attribute ints fit in 2^53), bytes fields are Uint8Array.
 */
import protobuf from 'protobufjs';
import { ONNX_SCHEMA } from './schema.generated.js';
import { OnnxError } from './errors.js';

/** TensorProto.DataType values used here. */
export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11,
  UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

export const DATA_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k]));

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10,
  SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

export interface StringStringEntryProto { key?: string; value?: string }

export interface TensorProto {
  dims?: number[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: number[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: StringStringEntryProto[];
  /** 0 = DEFAULT, 1 = EXTERNAL. */
  data_location?: number;
  double_data?: number[];
  uint64_data?: number[];
  segment?: { begin?: number; end?: number };
}

export interface AttributeProto {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
}

export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
}

export interface TensorShapeDimension { dim_value?: number; dim_param?: string; denotation?: string }

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim?: TensorShapeDimension[] } };
  denotation?: string;
}

export interface ValueInfoProto { name?: string; type?: TypeProto; doc_string?: string }

export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparse_initializer?: unknown[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

export interface OperatorSetIdProto { domain?: string; version?: number }

export interface ModelProto {
  ir_version?: number;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
  functions?: unknown[];
}

let modelType: protobuf.Type | undefined;

function ModelType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

/** Recognizable non-ONNX files, for a better message than a protobuf decode error. */
function sniff(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 16));
  if (head.startsWith('PK\x03\x04')) return 'a zip archive (a PyTorch .pt/.pth checkpoint? export it with torch.onnx.export first)';
  if (/^\s*[{[]/.test(head)) return 'JSON text (a metaprune checkpoint? load it with loadCheckpoint)';
  if (head.startsWith('\x89PNG')) return 'a PNG image';
  if (head.startsWith('\x93NUMPY')) return 'a NumPy .npy array';
  if (head.startsWith('\x89HDF')) return 'an HDF5 file (Keras? convert it to ONNX first)';
  if (head.startsWith('\x80\x02') || head.startsWith('\x80\x04')) return 'a Python pickle';
  return undefined;
}

/**
 * Decodes an ONNX ModelProto. Throws OnnxError (never a raw protobuf error) on empty, truncated or
 * non-ONNX input; `source` (a file name) prefixes the messages.
 */
export function decodeModelProto(bytes: Uint8Array, source = 'ONNX model'): ModelProto {
  if (bytes.length === 0) throw new OnnxError(`${source}: empty file, not an ONNX model`);
  const other = sniff(bytes);
  if (other !== undefined) throw new OnnxError(`${source}: not an ONNX model: the data looks like ${other}`);
  let obj: ModelProto;
  try {
    const T = ModelType();
    obj = T.toObject(T.decode(bytes), { longs: Number, enums: Number, arrays: true, defaults: false }) as ModelProto;
  } catch (e) {
    throw new OnnxError(
      `${source}: not a valid ONNX model: protobuf decoding of its ${bytes.length} bytes failed (${(e as Error).message}); ` +
        'the file is truncated or corrupt, or not an ONNX file',
    );
  }
  if (obj.graph === undefined || obj.ir_version === undefined) {
    const missing = [obj.ir_version === undefined ? 'ir_version' : '', obj.graph === undefined ? 'graph' : ''].filter((s) => s !== '').join(' and ');
    throw new OnnxError(`${source}: not a valid ONNX model: no ${missing} (the file is truncated or corrupt, or not an ONNX file)`);
  }
  return obj;
}

/** Encodes a ModelProto to bytes. */
export function encodeModelProto(m: ModelProto): Uint8Array {
  return ModelType().encode(m as unknown as protobuf.Message).finish();
}
