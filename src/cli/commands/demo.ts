/** `metaprune demo`: the whole Meta Pruning pipeline on the embedded data (the README's main job). */
import type { Command } from '../command.js';
import { CONFIG_FLAG, QUEUE_FLAG, resolveConfig } from '../common.js';
import { describeConfig } from '../config.js';
import { CONFIG_RULES } from '../config-rules.js';
import { flagBoolean } from '../args.js';
import { Progress } from '../progress.js';
import { RunDir } from '../../report/run-dir.js';
import { Interrupted } from '../../train/interrupt.js';
import { buildRunReport } from '../../report/run-report.js';
import { getBackend } from '../../tensor/registry.js';
import { assertPipelineResumable, runPipeline, quickConfig, DEFAULT_PIPELINE, type PipelineConfig, type Stage } from '../../meta/pipeline.js';

export function pipelineCommand(name: string, description: string, defaults: PipelineConfig, until: Stage = 'compare'): Command {
  return {
    name,
    interruptible: true,
    spec: {
      description,
      flags: {
        ...CONFIG_FLAG,
        quick: { type: 'boolean', description: 'a much smaller setting (about half a minute) for trying it out; run directory runs/demo-quick unless --out' },
        out: { type: 'string', short: 'o', valueName: 'DIR', description: 'run directory (re-running resumes it)' },
        model: { type: 'string', description: 'architecture of the data models' },
        ...QUEUE_FLAG,
      },
      epilog: `Examples:\n  metaprune ${name} --quick\n  metaprune ${name} meta.epochs=60 select.tolerance=0.03\n\nStages: zoo (data models) → meta-train → select (checkpoint by no-finetune curves on validation data) → compare (a) metanetwork, (b) prune only, (c) sparse training, on test data.\n\nConfig keys:\n${describeConfig(defaults, CONFIG_RULES)}`,
    },
    async run(args, ctx) {
      let cfg = resolveConfig(defaults, args, { out: 'out', model: 'zoo.model', queue: 'queue' });
      // the quick setting gets its own default directory: resuming a full run with it would be refused
      if (flagBoolean(args, 'quick')) cfg = quickConfig(cfg.out === defaults.out ? { ...cfg, out: `${defaults.out}-quick` } : cfg);
      assertPipelineResumable(cfg); // before RunDir rewrites config.json
      // demo and the stage commands share one run directory, resumed by re-running
      const run = new RunDir(cfg.out, cfg, { command: 'pipeline', mode: 'continue' });
      const t0 = performance.now();
      let bar: Progress | null = null;
      // wall time per stage of this invocation (a resumed stage shows only its remaining work)
      const stageSeconds: Record<string, number> = {};
      let stageStart: [string, number] | null = null;
      const endStage = () => { if (stageStart) stageSeconds[stageStart[0]] = (performance.now() - stageStart[1]) / 1000; stageStart = null; };
      const say = (s: string) => { if (!ctx.json) ctx.err(s); };
      let lastQueueLine = '';
      try {
        const r = await runPipeline(cfg, {
          stage: (s, d) => { bar?.done(); bar = null; endStage(); stageStart = [s, performance.now()]; say(`[${s}] ${d ?? ''}`); run.log({ kind: 'stage', stage: s, detail: d }); },
          zooModel: (e, done, total) => {
            run.log({ kind: 'zoo-model', ...e });
            say(`  data model ${done}/${total}: seed ${e.seed} (${e.split}) test acc ${(100 * e.trainedAcc).toFixed(2)}% → pre-pruned ${e.speedup.toFixed(2)}× ${(100 * e.acc).toFixed(2)}% (${e.seconds.toFixed(0)} s)`);
          },
          metaStep: (s) => {
            run.log({ kind: 'meta-step', ...s });
            if (bar === null) bar = new Progress({ total: cfg.meta.epochs * (cfg.zoo.count - cfg.zoo.heldOut), label: 'meta-train', unit: 'step' });
            bar.update(s.step, `epoch ${s.epoch + 1} CE ${s.ce.toFixed(3)} R ${s.r.toFixed(3)} ‖∇R‖/‖∇CE‖ ${s.ratio.toFixed(2)}`);
          },
          member: (m) => {
            run.log({ kind: 'curve', epoch: m.epoch, startAcc: m.startAcc, farAcc: m.farAcc, eligible: m.eligible });
            say(`  ${m.epoch === null ? 'original' : `epoch ${m.epoch}`}: unpruned ${(100 * m.startAcc).toFixed(2)}%, mean at ≥${cfg.select.farFrom}× ${(100 * m.farAcc).toFixed(2)}%`);
          },
          queueProgress: (p) => {
            const line = `  queue: ${p.done}/${p.total} jobs done, ${p.active} running, ${p.workers < 0 ? '?' : p.workers} workers connected`;
            if (line !== lastQueueLine) say(line);
            lastQueueLine = line;
          },
          stop: () => ctx.interrupted?.() ?? false,
          compareRow: (row) => {
            run.log({ kind: 'compare', ...row });
            say(`  ${row.arm.padEnd(13)} seed ${row.seed} ${row.target}× (${row.speedup.toFixed(2)}×): pruned ${(100 * row.accPruned).toFixed(2)}% → finetuned ${(100 * row.accFinal).toFixed(2)}%`);
          },
        }, until);
        endStage();
        const minutes = (performance.now() - t0) / 60000;
        const summary = {
          stage: r.stage, chosenEpoch: r.selection?.chosen, selectionRule: r.selection?.rule, reg: r.reg,
          zoo: r.zoo.entries.map((e) => ({ seed: e.seed, split: e.split, acc: e.acc, speedup: e.speedup, trainedAcc: e.trainedAcc, seconds: e.seconds })),
          comparison: r.summary, minutes, stageSeconds,
        };
        run.writeSummary(summary);
        const report = buildRunReport(cfg.out, getBackend());
        if (ctx.json) ctx.out(JSON.stringify(summary));
        else if (r.table === undefined) {
          ctx.out(`stage ${r.stage} done in ${minutes.toFixed(1)} min; run directory ${cfg.out}; report ${report}`);
        } else {
          ctx.out(`\nTest accuracy (%) after pruning to each MACs target and finetuning, mean ± std over ${cfg.compare.seeds} seeds; "no ft" = right after pruning:`);
          ctx.out(r.table);
          ctx.out(`\nchosen metanetwork epoch ${r.selection?.chosen}; λ = ${r.reg?.toPrecision(3)}; ${minutes.toFixed(1)} min; summary ${run.path('summary.json')}; report ${report}`);
        }
      } catch (e) {
        if (e instanceof Interrupted) {
          (bar as Progress | null)?.done();
          ctx.err(`metaprune: ${e.message}`);
          ctx.err(`resume with: metaprune ${(ctx.argv ?? [name, '--out', cfg.out]).join(' ')}`);
        }
        throw e;
      } finally {
        (bar as Progress | null)?.done();
        run.close();
      }
    },
  };
}

export const demoCommand = pipelineCommand('demo', 'Run the whole Meta Pruning pipeline on the embedded Fashion-MNIST-14 data with smallcnn.', DEFAULT_PIPELINE);

/** The pipeline's stages as commands on the same run directory and config (each resumes the earlier ones). */
export const stageCommands: Command[] = [
  pipelineCommand('zoo', 'Train the data-model zoo (resumable), split into meta-train and held-out models.', DEFAULT_PIPELINE, 'zoo'),
  pipelineCommand('meta-train', 'Meta-train the metanetwork on the zoo (checkpoint per epoch, resumable).', DEFAULT_PIPELINE, 'meta-train'),
  pipelineCommand('select', 'Compute no-finetune accuracy-vs-speed-up curves per metanetwork epoch and pick the checkpoint.', DEFAULT_PIPELINE, 'select'),
  pipelineCommand('compare', 'Compare metanetwork + prune, prune only and sparse training + prune at equal budgets.', DEFAULT_PIPELINE, 'compare'),
];
