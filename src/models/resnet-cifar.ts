/**
 * CIFAR ResNets (He et al. 2016, §4.2): 3 stages of 16/32/64 channels, n = (depth-2)/6 BasicBlocks
 * each. Shortcuts are option B (1×1 conv + BN projection when the shape changes), as in
 * Torch-Pruning's CIFAR benchmarks; parameter names follow torchvision (layer1.0.conv1, downsample.0, ...).
 */
import { GraphBuilder, type Sym } from '../ir/builder.js';
import { GraphError, type ModelGraph } from '../ir/graph.js';

export function basicBlock(b: GraphBuilder, x: Sym, prefix: string, planes: number, stride: number): Sym {
  let y = b.relu(b.bn(b.conv(x, `${prefix}.conv1`, planes, { kernel: 3, stride, padding: 1 }), `${prefix}.bn1`));
  y = b.bn(b.conv(y, `${prefix}.conv2`, planes, { kernel: 3, padding: 1 }), `${prefix}.bn2`);
  let sc = x;
  if (stride !== 1 || x.shape[0] !== planes) {
    sc = b.bn(b.conv(x, `${prefix}.downsample.0`, planes, { kernel: 1, stride }), `${prefix}.downsample.1`);
  }
  return b.relu(b.add([y, sc], `${prefix}.add`), `${prefix}.relu`);
}

export function resnetCifar(depth: number, numClasses = 10, inputShape: number[] = [3, 32, 32]): ModelGraph {
  if ((depth - 2) % 6 !== 0) throw new GraphError(`resnet${depth}: CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110)`);
  const n = (depth - 2) / 6;
  const b = new GraphBuilder(`resnet${depth}`);
  let x = b.input(inputShape);
  x = b.relu(b.bn(b.conv(x, 'conv1', 16, { kernel: 3, padding: 1 }), 'bn1'));
  [16, 32, 64].forEach((planes, s) => {
    for (let i = 0; i < n; i++) x = basicBlock(b, x, `layer${s + 1}.${i}`, planes, i === 0 && s > 0 ? 2 : 1);
  });
  return b.build(b.linear(b.gap(x, 'avgpool'), 'fc', numClasses));
}
