/** Errors of the network ↔ neural-graph mapping; messages name the model, the node and the problem. */
export class NeuralGraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NeuralGraphError';
  }
}
