/** The error every ONNX import/export problem raises: the message names the file, node, op and attribute. */
export class OnnxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxError';
  }
}
