/** The error every ONNX import/export problem raises: the message names the file, node, op and attribute. */
import { MetapruneError } from '../../errors.js';
export class OnnxError extends MetapruneError {
  constructor(message: string) {
    super('onnx', message);
    this.name = 'OnnxError';
  }
}
