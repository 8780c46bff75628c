/** ONNX import/export of IR models (protobufjs over the official onnx.proto), and optional onnxruntime-node helpers. */
export { OnnxError } from './errors.js';
export {
  importOnnx, loadOnnx, modelProtoToIr, float32Decimal, ONNX_SUPPORTED_OPS, ONNX_OPSET_RANGE,
  type OnnxImportOptions, type OnnxModelInfo, type ImportedOnnx,
} from './import.js';
export { exportOnnx, saveOnnx, irToModelProto, exportOptionsFrom, type OnnxExportOptions } from './export.js';
export {
  decodeModelProto, encodeModelProto, DataType, AttributeType,
  type ModelProto, type GraphProto, type NodeProto, type TensorProto, type AttributeProto, type ValueInfoProto, type TypeProto,
  type TensorShapeDimension, type OperatorSetIdProto, type StringStringEntryProto,
} from './proto.js';
export { tensorFloats, tensorInts, floatTensorProto, int64TensorProto } from './tensors.js';
export {
  loadOnnxRuntime, onnxRuntimeUnavailableReason, onnxRuntimeVersion, createOrtSession, runOrtSession, runOnnx, onnxLatency, compareOnnxLatencies,
  type OnnxRuntime, type OrtSession, type OrtTensor, type OrtSessionOptions, type LatencyOptions, type LatencyResult,
} from './runtime.js';
