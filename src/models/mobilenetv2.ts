/** torchvision MobileNetV2 (width 1.0): depthwise separable inverted residual blocks with ReLU6. */
import { GraphBuilder, type Sym } from '../ir/builder.js';
import type { ModelGraph } from '../ir/graph.js';

function makeDivisible(v: number, divisor = 8): number {
  const n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return n < 0.9 * v ? n + divisor : n;
}

export function mobilenetv2(numClasses = 1000, inputShape: number[] = [3, 224, 224], widthMult = 1): ModelGraph {
  const b = new GraphBuilder('mobilenetv2');
  let x: Sym = b.input(inputShape);
  const stem = makeDivisible(32 * widthMult);
  x = b.convBn(x, 'features.0.0', stem, { kernel: 3, stride: 2, padding: 1 }, 'relu6', 'features.0.1');
  const settings: [number, number, number, number][] = [
    [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
  ];
  let idx = 1;
  for (const [t, c, n, s] of settings) {
    const out = makeDivisible(c * widthMult);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const p = `features.${idx++}`;
      const inC = x.shape[0];
      const hidden = Math.round(inC * t);
      let y = x;
      if (t !== 1) y = b.convBn(y, `${p}.expand`, hidden, { kernel: 1 }, 'relu6', `${p}.expand_bn`);
      y = b.convBn(y, `${p}.dw`, hidden, { kernel: 3, stride, padding: 1, groups: hidden }, 'relu6', `${p}.dw_bn`);
      y = b.convBn(y, `${p}.project`, out, { kernel: 1 }, 'none', `${p}.project_bn`);
      x = stride === 1 && inC === out ? b.add([x, y], `${p}.add`) : y;
    }
  }
  const last = makeDivisible(1280 * Math.max(1, widthMult));
  x = b.convBn(x, `features.${idx}.0`, last, { kernel: 1 }, 'relu6', `features.${idx}.1`);
  return b.build(b.linear(b.gap(x, 'avgpool'), 'classifier', numClasses));
}
