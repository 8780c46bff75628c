/** Errors of the pruning engine: they name the node, op, group or option that is wrong. */
import { MetapruneError } from '../errors.js';
export class PruneError extends MetapruneError {
  constructor(message: string) {
    super('prune', message);
    this.name = 'PruneError';
  }
}
