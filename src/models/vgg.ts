/**
 * CIFAR VGG with BN (conv3×3 with bias + BN + ReLU, max-pools, global average pool, one linear
 * classifier), the `MyVGG` of the Meta Pruning reference and Torch-Pruning's CIFAR VGG.
 * Three max-pools: the last two stages run at 4×4 on 32×32 inputs, which reproduces the published
 * 512.73 M MACs / 20.09 M params of VGG-19-BN on CIFAR-100 (a 4th pool would give 399.5 M).
 */
import { GraphBuilder } from '../ir/builder.js';
import { GraphError, type ModelGraph } from '../ir/graph.js';

const CFG: Record<number, (number | 'M')[]> = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 512, 512],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 512, 512],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 512, 512, 512],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 512, 512, 512, 512],
};

export function vggBn(depth: number, numClasses = 100, inputShape: number[] = [3, 32, 32]): ModelGraph {
  const cfg = CFG[depth];
  if (cfg === undefined) throw new GraphError(`vgg${depth}: supported depths are 11, 13, 16, 19`);
  const b = new GraphBuilder(`vgg${depth}-bn`);
  let x = b.input(inputShape);
  let i = 0;
  for (const v of cfg) {
    if (v === 'M') x = b.pool('maxpool', x, 2, 2);
    else {
      x = b.relu(b.bn(b.conv(x, `features.${i}.conv`, v, { kernel: 3, padding: 1, bias: true }), `features.${i}.bn`));
      i++;
    }
  }
  return b.build(b.linear(b.gap(x, 'pool'), 'classifier', numClasses));
}
