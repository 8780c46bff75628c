/** `metaprune train`: train a built-in model on a dataset, with checkpoints and resume. */
import { join } from 'node:path';
import type { Command } from '../command.js';
import { CONFIG_FLAG, resolveConfig } from '../common.js';
import { describeConfig } from '../config.js';
import { CONFIG_RULES } from '../config-rules.js';
import { flagBoolean, UsageError } from '../args.js';
import { Progress } from '../progress.js';
import { RunDir } from '../../report/run-dir.js';
import { readMetrics } from '../../report/metrics.js';
import { trainModelRunInterruptible, lastCheckpointedEpoch, DEFAULT_TRAIN_RUN } from '../../train/run.js';
import { TrainingInterrupted, type EpochInfo } from '../../train/loop.js';
import { formatCount } from '../../ir/count.js';
import { buildRunReport } from '../../report/run-report.js';
import { getBackend } from '../../tensor/registry.js';

const epochRecord = (e: EpochInfo) => ({ kind: 'epoch', ...e, testLoss: e.test?.loss, testAcc: e.test?.acc, test: undefined });

export const trainCommand: Command = {
  name: 'train',
  interruptible: true,
  spec: {
    description: 'Train a model (default: smallcnn on the embedded Fashion-MNIST-14 data).',
    flags: {
      ...CONFIG_FLAG,
      model: { type: 'string', description: 'model name (see `metaprune models`)' },
      data: { type: 'string', description: "dataset: fashion-mnist-14 | idx:DIR | cifar10:DIR | cifar100:DIR" },
      epochs: { type: 'number', description: 'training epochs' },
      seed: { type: 'number', description: 'random seed' },
      out: { type: 'string', short: 'o', valueName: 'DIR', description: 'run directory' },
      resume: { type: 'boolean', description: 'continue from the last checkpoint in --out (same settings only)' },
      force: { type: 'boolean', description: 'overwrite the run already in --out' },
      'allow-nonfinite': { type: 'boolean', description: 'accept NaN/Infinity weights in a resumed checkpoint' },
    },
    epilog: `Examples:\n  metaprune train\n  metaprune train --model resnet20 --data cifar10:~/cifar train.epochs=30 train.lr=0.1\n\nCtrl-C stops after the current step and saves a checkpoint; --resume continues it.\n\nConfig keys:\n${describeConfig(DEFAULT_TRAIN_RUN, CONFIG_RULES)}`,
  },
  async run(args, ctx) {
    const cfg = resolveConfig(DEFAULT_TRAIN_RUN, args, { model: 'model', data: 'data', epochs: 'train.epochs', seed: 'train.seed', out: 'out' });
    const resume = flagBoolean(args, 'resume'), force = flagBoolean(args, 'force');
    if (resume && force) throw new UsageError('--resume and --force exclude each other');
    const run = new RunDir(cfg.out, cfg, { command: 'train', mode: resume ? 'resume' : force ? 'force' : 'new', ignore: ['out'] });
    const progress = new Progress({ total: 0, label: 'train', unit: 'step' });
    try {
      if (resume) {
        // a kill between the last checkpoint and its metrics line: write the line now
        const last = lastCheckpointedEpoch(run.checkpoints);
        if (last !== undefined && !readMetrics(run.path('metrics.jsonl')).some((r) => r['kind'] === 'epoch' && r['epoch'] === last.epoch)) run.log(epochRecord(last));
      }
      const r = await trainModelRunInterruptible(cfg, {
        checkpointDir: run.checkpoints,
        resume,
        allowNonFinite: flagBoolean(args, 'allow-nonfinite'),
        onStep: (s) => {
          if (s.step === 1) progress.setTotal(s.steps);
          progress.update(s.step, `epoch ${s.epoch + 1}/${cfg.train.epochs} loss ${s.loss.toFixed(4)}`);
        },
        onEpoch: (e) => {
          progress.done();
          run.log(epochRecord(e));
          if (!ctx.json) ctx.out(`epoch ${e.epoch + 1}/${cfg.train.epochs}  lr ${e.lr.toFixed(4)}  train loss ${e.trainLoss.toFixed(4)} acc ${(100 * e.trainAcc).toFixed(2)}%  test acc ${e.test ? (100 * e.test.acc).toFixed(2) + '%' : 'n/a'}  (${e.seconds.toFixed(1)} s)`);
        },
      }, () => ctx.interrupted?.() ?? false);
      const summary = {
        model: cfg.model, data: cfg.data, epochs: cfg.train.epochs,
        testAcc: r.final?.acc, testLoss: r.final?.loss, macs: r.macs, params: r.paramCount,
        checkpoint: join(run.checkpoints, `epoch_${cfg.train.epochs - 1}`), resumedFrom: r.resumedFrom,
      };
      run.writeSummary(summary);
      run.metrics.close();
      buildRunReport(cfg.out, getBackend());
      if (ctx.json) ctx.out(JSON.stringify(summary));
      else ctx.out(`done: test accuracy ${r.final ? (100 * r.final.acc).toFixed(2) + '%' : 'n/a'}, MACs ${formatCount(r.macs)}, params ${formatCount(r.paramCount)}; run in ${cfg.out}`);
    } catch (e) {
      progress.done();
      if (e instanceof TrainingInterrupted) {
        const again = [...(ctx.argv ?? ['train', '--out', cfg.out]).filter((a) => a !== '--force' && a !== '--resume'), '--resume'];
        ctx.err(`metaprune: ${e.message}`);
        ctx.err(`resume with: metaprune ${again.join(' ')}`);
      }
      throw e;
    } finally {
      run.close();
    }
  },
};
