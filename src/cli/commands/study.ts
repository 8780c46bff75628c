/** `metaprune study`: the pipeline over a grid of settings × held-out models × seeds, with bootstrap CIs (issue #16). */
import type { Command } from '../command.js';
import { CONFIG_FLAG, QUEUE_FLAG, resolveConfig } from '../common.js';
import { checkRules, describeConfig, mergeConfig } from '../config.js';
import { CONFIG_RULES } from '../config-rules.js';
import { flagBoolean } from '../args.js';
import { RunDir } from '../../report/run-dir.js';
import { buildStudyReport } from '../../report/study-report.js';
import { writeJsonAtomic } from '../../io/atomic.js';
import { DEFAULT_PIPELINE, quickConfig } from '../../meta/pipeline.js';
import { DEFAULT_STUDY_SETTINGS, formatStudyTable, runStudy, studyCells, withOverrides, type StudyConfig } from '../../meta/study.js';

export const DEFAULT_STUDY: StudyConfig = {
  ...DEFAULT_PIPELINE,
  out: 'runs/study',
  zoo: { ...DEFAULT_PIPELINE.zoo, heldOut: 5 },
  compare: { ...DEFAULT_PIPELINE.compare, targets: [2, 3, 4, 6] },
  study: DEFAULT_STUDY_SETTINGS,
};

/** Minutes, not hours: a 5-model zoo, 2 held-out models × 2 seeds, and one axis (BN recalibration as the adaptation). */
export function quickStudy(c: StudyConfig): StudyConfig {
  const q = quickConfig(c);
  return {
    ...q,
    compare: { ...q.compare, targets: [2, 3] },
    study: { ...c.study, models: 2, seeds: 2, grid: Object.keys(c.study.grid).length > 0 ? c.study.grid : { 'compare.adapt.kind': ['bn'] } },
  };
}

export const studyCommand: Command = {
  name: 'study',
  spec: {
    description: 'Run the Meta Pruning pipeline over a grid of settings with paired differences and bootstrap confidence intervals.',
    flags: {
      ...CONFIG_FLAG,
      quick: { type: 'boolean', description: 'a small study (a few minutes) for trying it out; run directory runs/study-quick unless --out' },
      out: { type: 'string', short: 'o', valueName: 'DIR', description: 'study directory (re-running resumes it; cells share zoos and metanetworks)' },
      ...QUEUE_FLAG,
    },
    epilog: `Examples:\n  metaprune study --quick\n  metaprune study 'study.grid={"compare.finetuneEpochs":[2,10],"compare.adapt.kind":["finetune","bn"]}'\n\nCells: the base setting, then (study.mode=one-at-a-time) each grid value alone, or (factorial) every combination, then study.points (name → overrides). Each cell compares (a) metanetwork, (b) prune only, (c) sparse training on study.models held-out models × study.seeds seeds; differences (a)−(b) and (a)−(c) per pair with ${Math.round(100 * DEFAULT_STUDY_SETTINGS.confidence)} % percentile-bootstrap CIs (over pairs, and over whole models). The best regime is chosen on validation accuracy; the test split only feeds the table.\n\nConfig keys:\n${describeConfig(DEFAULT_STUDY, CONFIG_RULES)}`,
  },
  async run(args, ctx) {
    let cfg = resolveConfig(DEFAULT_STUDY, args, { out: 'out', queue: 'queue' });
    if (flagBoolean(args, 'quick')) cfg = quickStudy(cfg.out === DEFAULT_STUDY.out ? { ...cfg, out: `${DEFAULT_STUDY.out}-quick` } : cfg);
    // every cell's settings are validated like a config file before any work starts
    for (const c of studyCells(cfg)) {
      const source = `study cell '${c.name}'`;
      checkRules(DEFAULT_STUDY, mergeConfig(DEFAULT_STUDY, withOverrides(cfg, c.overrides), source), CONFIG_RULES, source);
    }
    // cells are content-addressed, so a study continues with a changed grid (new cells are added)
    const run = new RunDir(cfg.out, cfg, { command: 'study', mode: 'continue' });
    const say = (s: string) => { if (!ctx.json) ctx.err(s); };
    try {
      const r = await runStudy(cfg, {
        cell: (c, i, n) => { say(`[cell ${i + 1}/${n}] ${c.name}`); run.log({ kind: 'cell', name: c.name, overrides: c.overrides }); },
        stage: (s, d) => say(`  [${s}] ${d ?? ''}`),
        zooModel: (e, done, total) => { run.log({ kind: 'zoo-model', ...e }); say(`    data model ${done}/${total}: seed ${e.seed} (${e.split}) ${(100 * e.acc).toFixed(2)}%`); },
        metaStep: (s) => { if (s.step % 50 === 0) say(`    meta-step ${s.step} epoch ${s.epoch + 1} CE ${s.ce.toFixed(3)} R ${s.r.toFixed(3)}`); },
        member: (m) => say(`    ${m.epoch === null ? 'original' : `epoch ${m.epoch}`}: unpruned ${(100 * m.startAcc).toFixed(2)}%, far ${(100 * m.farAcc).toFixed(2)}%`),
        compareRow: (row) => run.log({ kind: 'compare', ...row }),
        stop: () => ctx.interrupted?.() ?? false,
        cellDone: (c) => { run.log({ kind: 'cell-done', name: c.name, seconds: c.seconds, chosenEpoch: c.chosenEpoch }); say(`  done in ${(c.seconds / 60).toFixed(1)} min (comparison)`); },
      });
      writeJsonAtomic(run.path('study.json'), { config: cfg, ...r });
      const table = formatStudyTable(r, cfg.study.confidence);
      const report = buildStudyReport(cfg.out);
      run.writeSummary({ cells: r.cells.map((c) => ({ name: c.name, chosenEpoch: c.chosenEpoch, seconds: c.seconds, targets: c.targets })), bestOnValidation: r.bestOnValidation });
      if (ctx.json) ctx.out(JSON.stringify({ study: run.path('study.json'), report, bestOnValidation: r.bestOnValidation }));
      else ctx.out(`${table}\n\nstudy ${run.path('study.json')}; report ${report}`);
    } finally {
      run.close();
    }
  },
};
