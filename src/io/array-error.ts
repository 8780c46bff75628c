/** Error of the array-file readers (.npy, .npz, zip, .safetensors): the message names the file and what was expected. */
export class ArrayFileError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ArrayFileError';
    this.file = file;
  }
}
