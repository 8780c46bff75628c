/**
 * torchvision state-dict names of the built-in models' parameters. ResNets already use them; the
 * MobileNetV2 builder names its layers by role (expand / dw / project), which torchvision numbers
 * inside `features.N.conv`.
 */
import { paramNames, type ModelGraph } from '../ir/graph.js';

/** Our parameter name → the torchvision state-dict key for it. */
export function torchvisionNames(graph: ModelGraph): Map<string, string> {
  const nodes = new Set(graph.nodes.map((n) => n.name));
  const out = new Map<string, string>();
  for (const n of graph.nodes) {
    for (const { name, role } of paramNames(n)) out.set(name, `${torchvisionLayer(n.name, nodes)}.${role}`);
  }
  return out;
}

function torchvisionLayer(layer: string, nodes: Set<string>): string {
  const m = /^(features\.\d+)\.(expand|expand_bn|dw|dw_bn|project|project_bn)$/.exec(layer);
  if (m) {
    const expands = nodes.has(`${m[1]}.expand`);
    const k = expands
      ? { expand: 'conv.0.0', expand_bn: 'conv.0.1', dw: 'conv.1.0', dw_bn: 'conv.1.1', project: 'conv.2', project_bn: 'conv.3' }
      : { expand: 'conv.0.0', expand_bn: 'conv.0.1', dw: 'conv.0.0', dw_bn: 'conv.0.1', project: 'conv.1', project_bn: 'conv.2' };
    return `${m[1]}.${k[m[2] as keyof typeof k]}`;
  }
  if (layer === 'classifier' && nodes.has('features.18.0')) return 'classifier.1';
  return layer;
}
