/** `metaprune train`: train a built-in model on a dataset, with checkpoints and resume. */
import { join } from 'node:path';
import type { Command } from '../command.js';
import { CONFIG_FLAG, resolveConfig } from '../common.js';
import { describeConfig } from '../config.js';
import { CONFIG_RULES } from '../config-rules.js';
import { flagBoolean } from '../args.js';
import { Progress } from '../progress.js';
import { RunDir } from '../../report/run-dir.js';
import { trainModelRun, DEFAULT_TRAIN_RUN } from '../../train/run.js';
import { formatCount } from '../../ir/count.js';
import { buildRunReport } from '../../report/run-report.js';
import { getBackend } from '../../tensor/registry.js';

export const trainCommand: Command = {
  name: 'train',
  spec: {
    description: 'Train a model (default: smallcnn on the embedded Fashion-MNIST-14 data).',
    flags: {
      ...CONFIG_FLAG,
      model: { type: 'string', description: 'model name (see `metaprune models`)' },
      data: { type: 'string', description: "dataset: fashion-mnist-14 | idx:DIR | cifar10:DIR | cifar100:DIR" },
      epochs: { type: 'number', description: 'training epochs' },
      seed: { type: 'number', description: 'random seed' },
      out: { type: 'string', short: 'o', valueName: 'DIR', description: 'run directory' },
      resume: { type: 'boolean', description: 'continue from the last checkpoint in --out' },
    },
    epilog: `Examples:\n  metaprune train\n  metaprune train --model resnet20 --data cifar10:~/cifar train.epochs=30 train.lr=0.1\n\nConfig keys:\n${describeConfig(DEFAULT_TRAIN_RUN, CONFIG_RULES)}`,
  },
  run(args, ctx) {
    const cfg = resolveConfig(DEFAULT_TRAIN_RUN, args, { model: 'model', data: 'data', epochs: 'train.epochs', seed: 'train.seed', out: 'out' });
    const run = new RunDir(cfg.out, cfg);
    const progress = new Progress({ total: 0, label: 'train', unit: 'step' });
    try {
      const r = trainModelRun(cfg, {
        checkpointDir: run.checkpoints,
        resume: flagBoolean(args, 'resume'),
        onStep: (s) => {
          if (s.step === 1) progress.setTotal(s.steps);
          progress.update(s.step, `epoch ${s.epoch + 1}/${cfg.train.epochs} loss ${s.loss.toFixed(4)}`);
        },
        onEpoch: (e) => {
          progress.done();
          run.log({ kind: 'epoch', ...e, testLoss: e.test?.loss, testAcc: e.test?.acc, test: undefined });
          if (!ctx.json) ctx.out(`epoch ${e.epoch + 1}/${cfg.train.epochs}  lr ${e.lr.toFixed(4)}  train loss ${e.trainLoss.toFixed(4)} acc ${(100 * e.trainAcc).toFixed(2)}%  test acc ${e.test ? (100 * e.test.acc).toFixed(2) + '%' : 'n/a'}  (${e.seconds.toFixed(1)} s)`);
        },
      });
      const summary = {
        model: cfg.model, data: cfg.data, epochs: cfg.train.epochs,
        testAcc: r.final?.acc, testLoss: r.final?.loss, macs: r.macs, params: r.paramCount,
        checkpoint: join(run.checkpoints, `epoch_${cfg.train.epochs - 1}`), resumedFrom: r.resumedFrom,
      };
      run.writeSummary(summary);
      run.close();
      buildRunReport(cfg.out, getBackend());
      if (ctx.json) ctx.out(JSON.stringify(summary));
      else ctx.out(`done: test accuracy ${r.final ? (100 * r.final.acc).toFixed(2) + '%' : 'n/a'}, MACs ${formatCount(r.macs)}, params ${formatCount(r.paramCount)}; run in ${cfg.out}`);
    } finally {
      run.close();
    }
  },
};
