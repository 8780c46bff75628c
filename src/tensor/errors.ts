/** Errors raised by the engine: they name the op and the shapes involved. */
import { MetapruneError } from '../errors.js';
export class TensorError extends MetapruneError {
  constructor(op: string, message: string) {
    super('tensor', `${op}: ${message}`, { subject: op });
    this.name = 'TensorError';
  }
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Problems of the kernel backends (availability, threads, memory), not of one op's inputs. */
export class EngineError extends MetapruneError {
  constructor(message: string) {
    super('engine', message);
    this.name = 'EngineError';
  }
}
