/**
 * The base of every error metaprune throws: a `code` saying what kind of problem it is, the thing
 * named (a file, config key, node, op or option) and what was expected. Layer-specific errors
 * (TensorError, DataError, OnnxError, ...) are subclasses; the CLI turns any of them into a message
 * and an exit code in one place (cli/errors.ts). Imports nothing, so every layer may use it.
 */

export type ErrorCode =
  | 'usage' // bad command line
  | 'config' // bad config file or key=value override
  | 'value' // a value outside its range or set of choices
  | 'data' // dataset files
  | 'checkpoint' // checkpoint / tensor files
  | 'onnx' // ONNX import / export
  | 'graph' // model graph structure
  | 'tensor' // tensor ops and shapes
  | 'engine' // kernel backends, threads, memory
  | 'prune' // pruning
  | 'training' // training loop
  | 'metanet' // metanetwork, zoo, pipeline stages
  | 'io' // files and run directories
  | 'interrupted'; // stopped on request (Ctrl-C); what was saved was already said

export interface ErrorInfo {
  /** The thing the error is about: a file, config key, node, op or option. */
  readonly subject?: string;
  /** What was expected instead, in words. */
  readonly expected?: string;
}

export class MetapruneError extends Error {
  readonly code: ErrorCode;
  readonly subject: string | undefined;
  readonly expected: string | undefined;

  constructor(code: ErrorCode, message: string, info: ErrorInfo = {}) {
    super(message);
    this.name = 'MetapruneError';
    this.code = code;
    this.subject = info.subject;
    this.expected = info.expected;
  }

  /** The machine-readable form (`--json` prints `{"error": ...}`). */
  toJSON(): { code: ErrorCode; name: string; message: string; subject?: string; expected?: string } {
    return {
      code: this.code, name: this.name, message: this.message,
      ...(this.subject !== undefined ? { subject: this.subject } : {}),
      ...(this.expected !== undefined ? { expected: this.expected } : {}),
    };
  }
}

/** A function argument or option outside its allowed range (the message names it and the range). */
export class ValueError extends MetapruneError {
  constructor(message: string, info: ErrorInfo = {}) {
    super('value', message, info);
    this.name = 'ValueError';
  }
}
