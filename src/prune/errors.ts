/** Errors of the pruning engine: they name the node, op, group or option that is wrong. */
export class PruneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PruneError';
  }
}
