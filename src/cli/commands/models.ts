/** `metaprune models` and `metaprune inspect`: list built-in models; show layers, MACs and params. */
import type { Command } from '../command.js';
import { MODELS, buildModel } from '../../models/index.js';
import { countOps, formatCount } from '../../ir/count.js';
import { loadCheckpoint } from '../../io/checkpoint.js';
import type { ModelGraph } from '../../ir/graph.js';
import { UsageError } from '../args.js';

export const modelsCommand: Command = {
  name: 'models',
  spec: { description: 'List the built-in models with their MACs and parameters.', overrides: false },
  run(_args, ctx) {
    const rows = Object.entries(MODELS).map(([name, e]) => {
      const c = countOps(e.build({}));
      return { name, macs: c.macs, params: c.params, description: e.description };
    });
    if (ctx.json) return ctx.out(JSON.stringify(rows));
    for (const r of rows) ctx.out(`${r.name.padEnd(14)} ${formatCount(r.macs).padStart(10)} MACs ${formatCount(r.params).padStart(9)} params  ${r.description}`);
  },
};

/** Resolves a model argument: a built-in name or a checkpoint path (with or without .json). */
export function graphFromArg(arg: string): ModelGraph {
  if (MODELS[arg] !== undefined) return buildModel(arg);
  return loadCheckpoint(arg.replace(/\.(json|bin)$/, '')).graph;
}

export const inspectCommand: Command = {
  name: 'inspect',
  spec: {
    description: 'Show the layers, MACs and parameters of a built-in model or a checkpoint.',
    positionals: [{ name: 'model', description: 'built-in model name or checkpoint path' }],
    overrides: false,
    epilog: 'Examples:\n  metaprune inspect resnet56\n  metaprune inspect runs/train/checkpoints/epoch_4',
  },
  run(args, ctx) {
    const arg = args.named['model'];
    if (typeof arg !== 'string') throw new UsageError('missing model');
    const g = graphFromArg(arg);
    const c = countOps(g);
    if (ctx.json) return ctx.out(JSON.stringify({ name: g.name, macs: c.macs, params: c.params, layers: c.layers }));
    ctx.out(`${g.name}: ${formatCount(c.macs)} MACs, ${formatCount(c.params)} params, ${g.nodes.length} nodes`);
    for (const l of c.layers) {
      ctx.out(`  ${l.name.padEnd(28)} ${l.op.padEnd(10)} [${l.outShape.join('×')}]`.padEnd(60) + ` ${formatCount(l.macs).padStart(10)} MACs ${String(l.params).padStart(9)} params`);
    }
  },
};
