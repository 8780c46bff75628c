/**
 * A user's ONNX model as an architecture: its graph, freshly initialized (kaiming fan-out for
 * convs, as torchvision's CNNs), so the meta-pruning zoo can train data models of the same shape.
 */
import { loadOnnx } from '../io/onnx/index.js';
import { inferShapes } from '../ir/shapes.js';
import { inputNode, type ModelGraph } from '../ir/graph.js';
import { initParams } from '../ir/init.js';
import type { Params } from '../ir/graph.js';
import { MetapruneError } from '../errors.js';

export function isOnnxPath(model: string): boolean {
  return model.toLowerCase().endsWith('.onnx');
}

/**
 * The architecture of `file`, initialized from `seed`, after checking that its input shape is
 * [channels, height, width] and its output has `numClasses` logits.
 */
export function onnxArchitecture(file: string, inputShape: readonly number[], numClasses: number, seed: number): { graph: ModelGraph; params: Params } {
  const { graph } = loadOnnx(file);
  const want = inputNode(graph).shape;
  if (want.length !== inputShape.length || want.some((d, i) => d !== inputShape[i])) {
    throw new MetapruneError('data', `${file}: the model takes inputs [${want.join(', ')}] but the data has images [${inputShape.join(', ')}]: resize/crop the data (e.g. folder:DIR,resize=${want[1]},color=${want[0] === 1 ? 'gray' : 'rgb'})`);
  }
  const out = inferShapes(graph).get(graph.output)!;
  if (out.length !== 1 || out[0] !== numClasses) {
    throw new MetapruneError('data', `${file}: the model outputs [${out.join(', ')}] but the data has ${numClasses} classes`);
  }
  return { graph, params: initParams(graph, seed, 'kaiming-fan-out') };
}
