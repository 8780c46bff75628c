/** `metaprune meta-prune MODEL.onnx --data SPEC`: Meta Pruning of the user's own network (a thin layer over metaPrune). */
import { basename, extname } from 'node:path';
import type { Command } from '../command.js';
import { CONFIG_FLAG, resolveConfig } from '../common.js';
import { describeConfig } from '../config.js';
import { UsageError, flagBoolean } from '../args.js';
import { RunDir } from '../../report/run-dir.js';
import { DEFAULT_META_PRUNE, metaPrune, quickMetaPruneConfig } from '../../meta/meta-prune.js';

const pct = (a: number) => `${(100 * a).toFixed(2)}%`;

export const metaPruneCommand: Command = {
  name: 'meta-prune',
  spec: {
    description: 'Meta-prune your own ONNX model on your data: zoo → meta-train → select → metanetwork on your weights → prune → finetune → pruned .onnx.',
    positionals: [{ name: 'model', description: 'the trained .onnx model' }],
    flags: {
      ...CONFIG_FLAG,
      data: { type: 'string', valueName: 'SPEC', description: 'dataset: folder:DIR[,resize=H,crop=H,color=gray|rgb,test=0.2] | npz:FILE | npy:FILE,labels=FILE | idx:DIR | cifar10:DIR' },
      speedup: { type: 'number', description: 'MACs speed-up target (default 2)' },
      out: { type: 'string', short: 'o', valueName: 'FILE', description: 'pruned model (default: <model>-metapruned.onnx)' },
      run: { type: 'string', valueName: 'DIR', description: 'run directory (default runs/meta-prune-<model>; re-running resumes it)' },
      quick: { type: 'boolean', description: 'a much smaller setting for trying it out' },
    },
    epilog: `Examples:\n  metaprune meta-prune net.onnx --data folder:photos,resize=32 --speedup 2 --out net-2x.onnx --quick\n\nConfig keys:\n${describeConfig(DEFAULT_META_PRUNE)}`,
  },
  async run(args, ctx) {
    const model = args.named['model'];
    if (typeof model !== 'string' || model === '') throw new UsageError('missing model.onnx');
    const stem = basename(model, extname(model));
    let cfg = resolveConfig(DEFAULT_META_PRUNE, args, { data: 'data', speedup: 'speedup', out: 'output', run: 'out' });
    cfg = { ...cfg, model };
    if (cfg.out === DEFAULT_META_PRUNE.out) cfg.out = `runs/meta-prune-${stem}${flagBoolean(args, 'quick') ? '-quick' : ''}`;
    if (cfg.output === '') cfg.output = model.replace(/\.onnx$/i, '') + '-metapruned.onnx';
    if (flagBoolean(args, 'quick')) cfg = quickMetaPruneConfig(cfg);
    const run = new RunDir(cfg.out, cfg);
    const say = (s: string) => { if (!ctx.json) ctx.err(s); };
    try {
      const r = await metaPrune(cfg, {
        stage: (s, d) => { say(`[${s}] ${d ?? ''}`); run.log({ kind: 'stage', stage: s, detail: d }); },
        zooModel: (e, done, total) => { run.log({ kind: 'zoo-model', ...e }); say(`  data model ${done}/${total}: test acc ${pct(e.acc)}`); },
        metaStep: (s) => run.log({ kind: 'meta-step', ...s }),
        member: (m) => run.log({ kind: 'curve', epoch: m.epoch, startAcc: m.startAcc, farAcc: m.farAcc, eligible: m.eligible }),
      });
      run.writeSummary(r);
      if (ctx.json) ctx.out(JSON.stringify(r));
      else {
        ctx.out(`${r.output}: ${r.speedup.toFixed(2)}× fewer MACs (${r.macs.before} → ${r.macs.after}), params ${r.params.before} → ${r.params.after}`);
        ctx.out(`test accuracy: original ${pct(r.acc.original)}, metanetwork + adapt ${pct(r.acc.adapted)}, pruned ${pct(r.acc.pruned)}, finetuned ${pct(r.acc.finetuned)}`);
        ctx.out(`plan ${r.plan}; report ${cfg.out}/meta-prune.json`);
      }
    } finally {
      run.close();
    }
  },
};
