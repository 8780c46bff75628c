/**
 * smallcnn: the default model of the Meta Pruning demo, for 14×14 grey images.
 * conv3×3 1→16 → 16→32 s2 → 32→32 → 32→64 s2 → 64→64 (each + BN + ReLU) → GAP → linear 64→10.
 * The residual variant adds identity shortcuts around the 32→32 and 64→64 convs
 * (y = ReLU(BN(conv(x)) + x)), which couples their channels into shared pruning groups.
 */
import { GraphBuilder } from '../ir/builder.js';
import type { ModelGraph } from '../ir/graph.js';

export interface SmallCnnOptions {
  width?: number;
  residual?: boolean;
  numClasses?: number;
  inChannels?: number;
  inputSize?: number;
}

export function smallcnn(o: SmallCnnOptions = {}): ModelGraph {
  const w = o.width ?? 1;
  const c = (n: number) => Math.max(1, Math.round(n * w));
  const b = new GraphBuilder(o.residual ? 'smallcnn-res' : 'smallcnn');
  const size = o.inputSize ?? 14;
  let x = b.input([o.inChannels ?? 1, size, size]);
  const block = (i: number, out: number, stride: number, shortcut: boolean) => {
    const y = b.bn(b.conv(x, `conv${i}`, out, { kernel: 3, stride, padding: 1 }), `bn${i}`);
    x = b.relu(shortcut ? b.add([y, x], `add${i}`) : y, `relu${i}`);
  };
  const res = o.residual ?? false;
  block(1, c(16), 1, false);
  block(2, c(32), 2, false);
  block(3, c(32), 1, res);
  block(4, c(64), 2, false);
  block(5, c(64), 1, res);
  const f = b.gap(x, 'pool');
  return b.build(b.linear(f, 'fc', o.numClasses ?? 10));
}
