/** Test helpers: random parameters (incl. BN statistics) and hand-made uneven ("pruned") models. */
import { cloneGraph, paramNames, paramShapes, type ModelGraph, type Params } from '../../src/ir/graph.js';
import { inferShapes } from '../../src/ir/shapes.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, allocBuf, type DType } from '../../src/tensor/tensor.js';

/** Every parameter and buffer filled with distinct-ish random values (running_var > 0). */
export function randomParams(g: ModelGraph, seed: number, dtype: DType = 'float32', scale = 1): Params {
  const rng = new Rng(seed);
  const out: Params = {};
  for (const n of g.nodes) {
    const shapes = paramShapes(n);
    for (const { role, name } of paramNames(n)) {
      const shape = shapes[name];
      const size = shape.reduce((p, d) => p * d, 1);
      const b = allocBuf(dtype, size);
      let fanIn = 1;
      if (n.op === 'conv2d') fanIn = (n.inChannels / n.groups) * n.kernel[0] * n.kernel[1];
      if (n.op === 'linear') fanIn = n.inFeatures;
      for (let i = 0; i < size; i++) {
        if (role === 'running_var') b[i] = rng.uniform(0.5, 1.5);
        else if (role === 'weight' && n.op === 'batchnorm') b[i] = rng.uniform(0.5, 1.5);
        else if (role === 'running_mean' || (role === 'bias' && n.op === 'batchnorm')) b[i] = rng.uniform(-0.2, 0.2);
        else b[i] = (rng.uniform(-1, 1) * scale) / Math.sqrt(fanIn);
      }
      out[name] = new Tensor(b, shape);
    }
  }
  return out;
}

/**
 * A copy of `g` whose conv/linear layers have the given output widths; every consumer's input width
 * (conv inChannels, BN channels, linear inFeatures) follows. Depthwise convs keep groups = channels.
 * Widths of channels coupled by an add must be given consistently (inferShapes checks it).
 */
export function resizeGraph(g: ModelGraph, widths: Record<string, number>): ModelGraph {
  const r = cloneGraph(g);
  r.name = `${g.name}-resized`;
  const ch = new Map<string, number>();
  for (const n of r.nodes) {
    const inC = n.inputs.length > 0 ? ch.get(n.inputs[0])! : 0;
    switch (n.op) {
      case 'input':
        ch.set(n.name, n.shape[0]);
        break;
      case 'conv2d': {
        const depthwise = n.groups > 1 && n.groups === n.inChannels && n.groups === n.outChannels;
        n.inChannels = inC;
        n.outChannels = depthwise ? inC : (widths[n.name] ?? n.outChannels);
        if (depthwise) n.groups = inC;
        ch.set(n.name, n.outChannels);
        break;
      }
      case 'linear':
        n.inFeatures = inC;
        n.outFeatures = widths[n.name] ?? n.outFeatures;
        ch.set(n.name, n.outFeatures);
        break;
      case 'batchnorm':
        n.channels = inC;
        ch.set(n.name, inC);
        break;
      case 'concat':
        ch.set(n.name, n.inputs.reduce((p, i) => p + ch.get(i)!, 0));
        break;
      default:
        ch.set(n.name, inC);
    }
  }
  inferShapes(r);
  return r;
}

/** A "pruned" CIFAR ResNet: stage widths and every block's inner width chosen at random. */
export function unevenResnet(g: ModelGraph, seed: number): ModelGraph {
  const rng = new Rng(seed);
  const widths: Record<string, number> = {};
  const stage = [16, 32, 64].map((c) => 1 + rng.int(c));
  widths.conv1 = stage[0];
  for (const n of g.nodes) {
    const m = /^layer(\d)\.(\d+)\.(conv1|conv2|downsample\.0)$/.exec(n.name);
    if (m === null || n.op !== 'conv2d') continue;
    const s = Number(m[1]) - 1;
    widths[n.name] = m[3] === 'conv1' ? 1 + rng.int(n.outChannels) : stage[s];
  }
  return resizeGraph(g, widths);
}

export function assertBitExact(a: Params, b: Params, what: string): void {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join('|') !== kb.join('|')) throw new Error(`${what}: parameter names differ: ${ka.join(',')} vs ${kb.join(',')}`);
  for (const k of ka) {
    const x = a[k], y = b[k];
    if (x.shape.join(',') !== y.shape.join(',')) throw new Error(`${what}: '${k}' shape [${x.shape}] vs [${y.shape}]`);
    if (x.dtype !== y.dtype) throw new Error(`${what}: '${k}' dtype ${x.dtype} vs ${y.dtype}`);
    for (let i = 0; i < x.size; i++) {
      if (!Object.is(x.data[i], y.data[i])) throw new Error(`${what}: '${k}'[${i}] = ${x.data[i]} vs ${y.data[i]}`);
    }
  }
}
