/** `metaprune prune`: prune a checkpoint to a MACs speed-up, optionally via a metanetwork, then finetune. */
import { UsageError } from '../args.js';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { CONFIG_FLAG, resolveConfig, speedupWarning } from '../common.js';
import { flagBoolean } from '../args.js';
import { describeConfig } from '../config.js';
import { CONFIG_RULES } from '../config-rules.js';
import { RunDir } from '../../report/run-dir.js';
import { loadCheckpoint, saveCheckpoint } from '../../io/checkpoint.js';
import { countOps, formatCount, layerWidths } from '../../ir/count.js';
import { loadDataset } from '../../data/index.js';
import { parseDataSpec, finetune } from '../../train/run.js';
import { evaluate } from '../../train/evaluate.js';
import { pruneToSpeedup, importanceByName } from '../../prune/index.js';
import { loadMetanet } from '../../meta/metanet.js';
import { noGrad } from '../../tensor/autograd.js';
import { cloneParams } from '../../ir/init.js';
import { buildRunReport } from '../../report/run-report.js';
import { getBackend } from '../../tensor/registry.js';

export const DEFAULT_PRUNE_RUN = {
  checkpoint: '',
  out: 'runs/pruned',
  data: 'fashion-mnist-14',
  speedup: 2,
  importance: 'l2' as string,
  iterativeSteps: 200,
  roundTo: 1,
  globalPruning: true,
  ignoredLayers: [] as string[],
  metanet: '',
  metanetFinetuneEpochs: 1,
  finetuneEpochs: 0,
  finetuneLr: 0.01,
  seed: 0,
};


/** Output channels of every conv/linear, for the before/after chart. */
const pct = (a: number) => `${(100 * a).toFixed(2)}%`;

export const pruneCommand: Command = {
  name: 'prune',
  spec: {
    description: 'Prune a trained checkpoint to a MACs speed-up (group-L2, global, progressive), optionally after a metanetwork; finetune.',
    flags: {
      ...CONFIG_FLAG,
      checkpoint: { type: 'string', valueName: 'PATH', description: 'model checkpoint (e.g. runs/train/checkpoints/epoch_4)' },
      speedup: { type: 'number', description: 'target MACs speed-up' },
      importance: { type: 'string', description: 'l2 | l1 | bn-scale | random' },
      metanet: { type: 'string', valueName: 'PATH', description: 'apply this metanetwork checkpoint first' },
      'finetune-epochs': { type: 'number', description: 'finetune epochs after pruning' },
      out: { type: 'string', short: 'o', valueName: 'DIR', description: 'run directory' },
      force: { type: 'boolean', description: 'overwrite the run already in --out' },
      'allow-nonfinite': { type: 'boolean', description: 'accept NaN/Infinity weights in the checkpoint or metanetwork' },
    },
    epilog: `Examples:\n  metaprune prune --checkpoint runs/train/checkpoints/epoch_4 --speedup 2 --finetune-epochs 2\n  metaprune prune --checkpoint runs/train/checkpoints/epoch_4 --metanet runs/demo/meta/metanet_epoch_29 --speedup 3\n\nConfig keys:\n${describeConfig(DEFAULT_PRUNE_RUN, CONFIG_RULES)}`,
  },
  run(args, ctx) {
    const cfg = resolveConfig(DEFAULT_PRUNE_RUN, args, {
      checkpoint: 'checkpoint', speedup: 'speedup', importance: 'importance', metanet: 'metanet', 'finetune-epochs': 'finetuneEpochs', out: 'out',
    });
    if (cfg.checkpoint === '') throw new UsageError('prune: --checkpoint is required');
    const dataSpec = parseDataSpec(cfg.data); // a bad spec fails before anything is loaded
    const allowNonFinite = flagBoolean(args, 'allow-nonfinite');
    const ck = loadCheckpoint(cfg.checkpoint.replace(/\.(json|bin)$/, ''), { allowNonFinite });
    const data = loadDataset(dataSpec);
    const run = new RunDir(cfg.out, cfg, { command: 'prune', mode: flagBoolean(args, 'force') ? 'force' : 'new' });
    const say = (s: string) => { if (!ctx.json) ctx.out(s); };
    try {
      const base = countOps(ck.graph);
      let params = ck.params;
      const accBase = evaluate(ck.graph, params, data.test).acc;
      say(`loaded ${ck.graph.name}: test accuracy ${pct(accBase)}`);
      let accMeta: number | undefined;
      if (cfg.metanet !== '') {
        const m = loadMetanet(cfg.metanet.replace(/\.(json|bin)$/, ''), { allowNonFinite }).metanet;
        params = cloneParams(noGrad(() => m.apply(ck.graph, params)));
        finetune(ck.graph, params, data.train, { epochs: cfg.metanetFinetuneEpochs, lr: cfg.finetuneLr, seed: cfg.seed });
        accMeta = evaluate(ck.graph, params, data.test).acc;
        say(`after metanetwork + ${cfg.metanetFinetuneEpochs} finetune epoch(s): ${pct(accMeta)}`);
      }
      const r = pruneToSpeedup(ck.graph, cloneParams(params), {
        speedup: cfg.speedup, importance: importanceByName(cfg.importance, cfg.seed), iterativeSteps: cfg.iterativeSteps,
        roundTo: cfg.roundTo, globalPruning: cfg.globalPruning, ...(cfg.ignoredLayers.length > 0 ? { ignoredLayers: cfg.ignoredLayers } : {}),
      });
      const after = countOps(r.graph);
      const accPruned = evaluate(r.graph, r.params, data.test).acc;
      say(`MACs: ${formatCount(base.macs)} => ${formatCount(after.macs)} (${(base.macs / after.macs).toFixed(2)}x, target ${cfg.speedup}x)`);
      const off = speedupWarning(cfg.speedup, base.macs / after.macs);
      if (off !== undefined) ctx.err(`metaprune: warning: ${off}`);
      say(`Params: ${formatCount(base.params)} => ${formatCount(after.params)} (${((100 * after.params) / base.params).toFixed(2)}%)`);
      say(`accuracy: ${pct(accBase)} before, ${pct(accPruned)} after pruning`);
      finetune(r.graph, r.params, data.train, { epochs: cfg.finetuneEpochs, lr: cfg.finetuneLr, seed: cfg.seed });
      const accFinal = evaluate(r.graph, r.params, data.test).acc;
      if (cfg.finetuneEpochs > 0) say(`after ${cfg.finetuneEpochs} finetune epoch(s): ${pct(accFinal)}`);
      saveCheckpoint(join(run.checkpoints, 'pruned'), { graph: r.graph, params: r.params, metadata: { source: cfg.checkpoint, speedup: base.macs / after.macs } });
      const summary = {
        macsBefore: base.macs, macsAfter: after.macs, target: cfg.speedup, speedup: base.macs / after.macs, paramsBefore: base.params, paramsAfter: after.params,
        accBefore: accBase, accAfterMetanet: accMeta, accPruned, accFinal, steps: r.steps,
        layers: layerWidths(ck.graph, r.graph),
        checkpoint: join(run.checkpoints, 'pruned'),
      };
      run.writeSummary(summary);
      run.metrics.close();
      buildRunReport(cfg.out, getBackend());
      if (ctx.json) ctx.out(JSON.stringify(summary));
      else say(`pruned checkpoint: ${summary.checkpoint}`);
    } finally {
      run.close();
    }
  },
};
