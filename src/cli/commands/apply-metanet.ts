/** `metaprune apply-metanet`: one forward pass of a metanetwork over a checkpoint's network. */
import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { loadCheckpoint, saveCheckpoint } from '../../io/checkpoint.js';
import { loadMetanet } from '../../meta/metanet.js';
import { loadDataset } from '../../data/index.js';
import { parseDataSpec } from '../../train/run.js';
import { evaluate } from '../../train/evaluate.js';
import { recalibrateBn } from '../../train/bn-recalibrate.js';
import { noGrad } from '../../tensor/autograd.js';
import { cloneParams } from '../../ir/init.js';
import { flagBoolean, flagString, UsageError } from '../args.js';

export const applyMetanetCommand: Command = {
  name: 'apply-metanet',
  spec: {
    description: 'Transform a trained network with a metanetwork (θ\' = M(θ)) and save the result.',
    flags: {
      metanet: { type: 'string', valueName: 'PATH', description: 'metanetwork checkpoint, e.g. runs/demo/meta/metanet_epoch_29' },
      checkpoint: { type: 'string', valueName: 'PATH', description: 'model checkpoint' },
      out: { type: 'string', short: 'o', valueName: 'PATH', description: 'output checkpoint path (without extension)' },
      data: { type: 'string', description: 'dataset for the accuracy report (default fashion-mnist-14)' },
      'recalibrate-bn': { type: 'boolean', description: 'recompute BN running statistics on training data afterwards' },
      'allow-nonfinite': { type: 'boolean', description: 'accept NaN/Infinity weights in the checkpoint or metanetwork' },
      force: { type: 'boolean', description: 'allow --out to overwrite an input checkpoint' },
    },
    overrides: false,
    epilog: 'Example:\n  metaprune apply-metanet --metanet runs/demo/meta/metanet_epoch_29 --checkpoint runs/demo/zoo/models/model_11 --out runs/x-meta',
  },
  run(args, ctx) {
    const metanetPath = flagString(args, 'metanet');
    const ckPath = flagString(args, 'checkpoint');
    const out = flagString(args, 'out');
    if (!metanetPath || !ckPath || !out) throw new UsageError('apply-metanet needs --metanet, --checkpoint and --out');
    const stem = (p: string) => resolve(p.replace(/\.(json|bin)$/, ''));
    if (!flagBoolean(args, 'force') && (stem(out) === stem(ckPath) || stem(out) === stem(metanetPath))) {
      throw new UsageError(`--out ${out} is an input checkpoint; choose another path or add --force to overwrite it`);
    }
    const allowNonFinite = flagBoolean(args, 'allow-nonfinite');
    const ck = loadCheckpoint(ckPath.replace(/\.(json|bin)$/, ''), { allowNonFinite });
    const { metanet } = loadMetanet(metanetPath.replace(/\.(json|bin)$/, ''), { allowNonFinite });
    const data = loadDataset(parseDataSpec(flagString(args, 'data') ?? 'fashion-mnist-14'));
    const before = evaluate(ck.graph, ck.params, data.test).acc;
    const params = cloneParams(noGrad(() => metanet.apply(ck.graph, ck.params)));
    const after = evaluate(ck.graph, params, data.test).acc;
    let recal: number | undefined;
    if (flagBoolean(args, 'recalibrate-bn')) {
      recalibrateBn(ck.graph, params, data.train);
      recal = evaluate(ck.graph, params, data.test).acc;
    }
    saveCheckpoint(out, { graph: ck.graph, params, metadata: { ...ck.metadata, metanet: metanetPath, source: ckPath } });
    const r = { before, after, afterRecalibration: recal, out };
    if (ctx.json) ctx.out(JSON.stringify(r));
    else ctx.out(`test accuracy ${(100 * before).toFixed(2)}% → ${(100 * after).toFixed(2)}% after the metanetwork${recal !== undefined ? ` → ${(100 * recal).toFixed(2)}% after BN recalibration` : ''}; saved ${join(out)}.json/.bin`);
  },
};
