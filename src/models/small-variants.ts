/**
 * Small models that exercise the pruner's harder couplings:
 * - concatnet: an Inception-style block whose branch outputs are concatenated (concat offsets);
 * - flatcnn: a chain CNN whose conv output is flattened into a linear layer (each channel owns
 *   a contiguous block of linear inputs).
 */
import { GraphBuilder } from '../ir/builder.js';
import type { ModelGraph } from '../ir/graph.js';

export function concatnet(numClasses = 10, inputShape: number[] = [1, 14, 14]): ModelGraph {
  const b = new GraphBuilder('concatnet');
  let x = b.input(inputShape);
  x = b.convBn(x, 'stem', 16, { kernel: 3, padding: 1 }, 'relu', 'stem_bn');
  const b1 = b.convBn(x, 'branch1', 8, { kernel: 1 }, 'relu', 'branch1_bn');
  let b2 = b.convBn(x, 'branch2a', 8, { kernel: 1 }, 'relu', 'branch2a_bn');
  b2 = b.convBn(b2, 'branch2b', 12, { kernel: 3, padding: 1 }, 'relu', 'branch2b_bn');
  const b3 = b.pool('maxpool', x, 3, 1, 1, 'branch3_pool');
  x = b.concat([b1, b2, b3], 'cat'); // 8 + 12 + 16 channels
  x = b.convBn(x, 'mix', 32, { kernel: 3, stride: 2, padding: 1 }, 'relu', 'mix_bn');
  return b.build(b.linear(b.gap(x, 'pool'), 'fc', numClasses));
}

export function flatcnn(numClasses = 10, inputShape: number[] = [1, 14, 14]): ModelGraph {
  const b = new GraphBuilder('flatcnn');
  let x = b.input(inputShape);
  x = b.convBn(x, 'conv1', 8, { kernel: 3, padding: 1 }, 'relu', 'bn1');
  x = b.pool('maxpool', x, 2, 2);
  x = b.convBn(x, 'conv2', 16, { kernel: 3, padding: 1 }, 'relu', 'bn2');
  x = b.pool('maxpool', x, 2, 2); // 16×3×3
  x = b.relu(b.linear(b.flatten(x, 'flatten'), 'fc1', 32), 'fc1_relu');
  return b.build(b.linear(x, 'fc2', numClasses));
}
