/** Shape inference over the whole graph. */
import { indexGraph, inputNode, type ModelGraph } from './graph.js';
import { inferNodeShape } from './ops.js';

/** Per-sample output shape of every node (no batch dimension), validating the graph on the way. */
export function inferShapes(g: ModelGraph, inputShape?: readonly number[]): Map<string, number[]> {
  indexGraph(g);
  const shapes = new Map<string, number[]>();
  const inp = inputNode(g);
  for (const n of g.nodes) {
    if (n === inp) {
      shapes.set(n.name, [...(inputShape ?? inp.shape)]);
      continue;
    }
    shapes.set(n.name, inferNodeShape(n, n.inputs.map((i) => shapes.get(i)!)));
  }
  return shapes;
}
