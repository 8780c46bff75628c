/**
 * The tiny model of the hand-computed importance / γ examples (not a test file):
 * input [1,2,2] → conv1 (1→3, 1×1) → bn1 → relu → conv2 (3→1, 1×1) → bn2 → relu → gap → fc (1→2).
 * conv1.weight = [1, 2, 4], bn1.weight = [1, 2, 2], bn1.bias = [1, 0, 3], conv2.weight = [2, 2, 2].
 */
import { GraphBuilder } from '../../src/ir/builder.js';
import { initParams } from '../../src/ir/init.js';
import { tensor } from '../../src/tensor/tensor.js';
import type { ModelGraph, Params } from '../../src/ir/graph.js';

export function tinyModel(): { graph: ModelGraph; params: Params } {
  const b = new GraphBuilder('tiny');
  let x = b.input([1, 2, 2]);
  x = b.relu(b.bn(b.conv(x, 'conv1', 3, { kernel: 1 }), 'bn1'));
  x = b.relu(b.bn(b.conv(x, 'conv2', 1, { kernel: 1 }), 'bn2'));
  const graph = b.build(b.linear(b.gap(x), 'fc', 2));
  const params = initParams(graph, 0);
  params['conv1.weight'] = tensor([1, 2, 4], [3, 1, 1, 1]);
  params['bn1.weight'] = tensor([1, 2, 2]);
  params['bn1.bias'] = tensor([1, 0, 3]);
  params['conv2.weight'] = tensor([2, 2, 2], [1, 3, 1, 1]);
  params['bn2.weight'] = tensor([0.5]);
  params['fc.weight'] = tensor([3, -1], [2, 1]);
  return { graph, params };
}
