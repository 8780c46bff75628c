/** Error of the array-file readers (.npy, .npz, zip, .safetensors): the message names the file and what was expected. */
import { MetapruneError } from '../errors.js';
export class ArrayFileError extends MetapruneError {
  readonly file: string;

  constructor(file: string, problem: string) {
    super('data', `${file}: ${problem}`, { subject: file });
    this.name = 'ArrayFileError';
    this.file = file;
  }
}
