/** Model zoo: every built-in architecture by name. */
import type { ModelGraph } from '../ir/graph.js';
import type { InitScheme } from '../ir/init.js';
import { GraphError } from '../ir/graph.js';
import { smallcnn } from './smallcnn.js';
import { resnetCifar } from './resnet-cifar.js';
import { vggBn } from './vgg.js';
import { resnetImagenet } from './resnet-imagenet.js';
import { mobilenetv2 } from './mobilenetv2.js';
import { concatnet, flatcnn } from './small-variants.js';

export { smallcnn, resnetCifar, vggBn, resnetImagenet, mobilenetv2, concatnet, flatcnn };

export interface ModelOptions {
  numClasses?: number;
  /** Per-sample input shape [C, H, W]; each model has its natural default. */
  inputShape?: number[];
  width?: number;
}

interface ModelEntry {
  build(o: ModelOptions): ModelGraph;
  init: InitScheme;
  description: string;
}

const cifarResnet = (d: number): ModelEntry => ({
  build: (o) => resnetCifar(d, o.numClasses ?? 10, o.inputShape),
  init: 'kaiming-fan-out',
  description: `CIFAR ResNet-${d} (16/32/64 channels, option-B projection shortcuts)`,
});

const vgg = (d: number): ModelEntry => ({
  build: (o) => vggBn(d, o.numClasses ?? 100, o.inputShape),
  init: 'torch-default',
  description: `CIFAR VGG-${d} with BN`,
});

export const MODELS: Record<string, ModelEntry> = {
  smallcnn: {
    build: (o) => smallcnn({ numClasses: o.numClasses, width: o.width, inChannels: o.inputShape?.[0], inputSize: o.inputShape?.[1] }),
    init: 'torch-default',
    description: 'five conv3×3+BN+ReLU layers for 14×14 grey images (default of the demo)',
  },
  'smallcnn-res': {
    build: (o) => smallcnn({ residual: true, numClasses: o.numClasses, width: o.width, inChannels: o.inputShape?.[0], inputSize: o.inputShape?.[1] }),
    init: 'torch-default',
    description: 'smallcnn with identity shortcuts around its 32→32 and 64→64 convs',
  },
  resnet20: cifarResnet(20),
  resnet32: cifarResnet(32),
  resnet56: cifarResnet(56),
  resnet110: cifarResnet(110),
  vgg11: vgg(11),
  vgg16: vgg(16),
  vgg19: vgg(19),
  resnet18: { build: (o) => resnetImagenet(18, o.numClasses ?? 1000, o.inputShape), init: 'kaiming-fan-out', description: 'torchvision ResNet-18' },
  resnet50: { build: (o) => resnetImagenet(50, o.numClasses ?? 1000, o.inputShape), init: 'kaiming-fan-out', description: 'torchvision ResNet-50' },
  mobilenetv2: { build: (o) => mobilenetv2(o.numClasses ?? 1000, o.inputShape, o.width), init: 'kaiming-fan-out', description: 'torchvision MobileNetV2' },
  concatnet: { build: (o) => concatnet(o.numClasses ?? 10, o.inputShape), init: 'torch-default', description: 'small Inception-style block with a channel concat' },
  flatcnn: { build: (o) => flatcnn(o.numClasses ?? 10, o.inputShape), init: 'torch-default', description: 'chain CNN with a flatten → linear head' },
};

export const MODEL_NAMES = Object.keys(MODELS);

export function modelEntry(name: string): ModelEntry {
  const e = MODELS[name];
  if (e === undefined) throw new GraphError(`unknown model '${name}'; available: ${MODEL_NAMES.join(', ')}`);
  return e;
}

export function buildModel(name: string, o: ModelOptions = {}): ModelGraph {
  return modelEntry(name).build(o);
}
