/** Errors of the network ↔ neural-graph mapping; messages name the model, the node and the problem. */
import { MetapruneError } from '../errors.js';
export class NeuralGraphError extends MetapruneError {
  constructor(message: string) {
    super('graph', message);
    this.name = 'NeuralGraphError';
  }
}
