/** torchvision ImageNet ResNets (v1.5: stride in the 3×3 conv of bottlenecks). */
import { GraphBuilder, type Sym } from '../ir/builder.js';
import { GraphError, type ModelGraph } from '../ir/graph.js';
import { basicBlock } from './resnet-cifar.js';

function bottleneck(b: GraphBuilder, x: Sym, prefix: string, planes: number, stride: number): Sym {
  const out = planes * 4;
  let y = b.relu(b.bn(b.conv(x, `${prefix}.conv1`, planes, { kernel: 1 }), `${prefix}.bn1`));
  y = b.relu(b.bn(b.conv(y, `${prefix}.conv2`, planes, { kernel: 3, stride, padding: 1 }), `${prefix}.bn2`));
  y = b.bn(b.conv(y, `${prefix}.conv3`, out, { kernel: 1 }), `${prefix}.bn3`);
  let sc = x;
  if (stride !== 1 || x.shape[0] !== out) sc = b.bn(b.conv(x, `${prefix}.downsample.0`, out, { kernel: 1, stride }), `${prefix}.downsample.1`);
  return b.relu(b.add([y, sc], `${prefix}.add`), `${prefix}.relu`);
}

const LAYERS: Record<number, { block: 'basic' | 'bottleneck'; n: number[] }> = {
  18: { block: 'basic', n: [2, 2, 2, 2] },
  34: { block: 'basic', n: [3, 4, 6, 3] },
  50: { block: 'bottleneck', n: [3, 4, 6, 3] },
  101: { block: 'bottleneck', n: [3, 4, 23, 3] },
};

export function resnetImagenet(depth: number, numClasses = 1000, inputShape: number[] = [3, 224, 224]): ModelGraph {
  const spec = LAYERS[depth];
  if (spec === undefined) throw new GraphError(`resnet${depth}: supported ImageNet depths are 18, 34, 50, 101`);
  const b = new GraphBuilder(`resnet${depth}-imagenet`);
  let x = b.input(inputShape);
  x = b.relu(b.bn(b.conv(x, 'conv1', 64, { kernel: 7, stride: 2, padding: 3 }), 'bn1'));
  x = b.pool('maxpool', x, 3, 2, 1, 'maxpool');
  [64, 128, 256, 512].forEach((planes, s) => {
    for (let i = 0; i < spec.n[s]; i++) {
      const stride = i === 0 && s > 0 ? 2 : 1;
      const prefix = `layer${s + 1}.${i}`;
      x = spec.block === 'basic' ? basicBlock(b, x, prefix, planes, stride) : bottleneck(b, x, prefix, planes, stride);
    }
  });
  return b.build(b.linear(b.gap(x, 'avgpool'), 'fc', numClasses));
}
