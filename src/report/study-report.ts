/**
 * `report.html` of a study directory (issue #16), read from study.json alone: per cell and target
 * the paired differences (a)−(b), (a)−(c) with their bootstrap CIs, before and after finetuning.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport, type ReportChart, type ReportTable } from './html.js';
import { collectEnvironment } from './environment.js';
import { getBackend } from '../tensor/registry.js';
import { forestPlot } from './charts.js';
import { MetapruneError } from '../errors.js';

interface Interval { lo: number; hi: number }
interface Diff { mean: number; std: number; n: number; ci: Interval; ciModels: Interval }
interface ArmStat { arm: string; final: { mean: number; std: number; n: number }; pruned: { mean: number } }
interface Target { target: number; arms: ArmStat[]; vsPruneOnly: Diff; vsSparse: Diff; vsPruneOnlyPruned: Diff; vsSparsePruned: Diff; vsPruneOnlyVal: { mean: number } }
interface Cell { name: string; chosenEpoch: number; seconds: number; targets: Target[] }
interface Study { config: object; cells: Cell[]; bestOnValidation: { name: string; meanValDiff: number } | null }

const pt = (x: number) => Number((100 * x).toFixed(2));

function forest(cells: Cell[], pick: (t: Target) => Diff, title: string): ReportChart {
  const rows = cells.flatMap((c) => c.targets.map((t) => {
    const d = pick(t);
    return { label: `${t.target}×`, group: c.name, mean: 100 * d.mean, lo: 100 * d.ci.lo, hi: 100 * d.ci.hi, n: d.n };
  }));
  return {
    title,
    svg: forestPlot(rows, { title, xLabel: 'difference in test accuracy (percentage points)', zeroLine: true }),
    caption: 'Dot: mean over (held-out model × seed) pairs; whisker: 95 % percentile-bootstrap CI over pairs. Right of 0: the metanetwork arm is ahead.',
  };
}

export function buildStudyReport(dir: string): string {
  const file = join(dir, 'study.json');
  if (!existsSync(file)) throw new MetapruneError('io', `${file}: not found; run \`metaprune study\` first`);
  const s = JSON.parse(readFileSync(file, 'utf8')) as Study;
  const charts: ReportChart[] = [
    forest(s.cells, (t) => t.vsPruneOnly, '(a) metanetwork − (b) prune only, after finetuning'),
    forest(s.cells, (t) => t.vsSparse, '(a) metanetwork − (c) sparse training, after finetuning'),
    forest(s.cells, (t) => t.vsPruneOnlyPruned, '(a) − (b) right after pruning, before finetuning'),
  ];
  const diffRow = (c: Cell, t: Target) => [
    c.name, `${t.target}×`, t.vsPruneOnly.n,
    pt(t.vsPruneOnly.mean), `[${pt(t.vsPruneOnly.ci.lo)}, ${pt(t.vsPruneOnly.ci.hi)}]`, `[${pt(t.vsPruneOnly.ciModels.lo)}, ${pt(t.vsPruneOnly.ciModels.hi)}]`,
    pt(t.vsSparse.mean), `[${pt(t.vsSparse.ci.lo)}, ${pt(t.vsSparse.ci.hi)}]`,
    pt(t.vsPruneOnlyPruned.mean), pt(t.vsPruneOnlyVal.mean),
  ];
  const tables: ReportTable[] = [
    {
      title: 'Paired differences (percentage points)',
      columns: ['cell', 'target', 'pairs', '(a)−(b)', '95 % CI (pairs)', '95 % CI (models)', '(a)−(c)', '95 % CI (pairs)', '(a)−(b) no ft', '(a)−(b) validation'],
      rows: s.cells.flatMap((c) => c.targets.map((t) => diffRow(c, t))),
      caption: 'Test accuracy after finetuning unless marked. "models" resamples whole held-out models with all their seeds. The validation column is what the best regime is chosen on.',
    },
    {
      title: 'Accuracy per arm (%)',
      columns: ['cell', 'target', 'arm', 'finetuned mean', 'std', 'right after pruning'],
      rows: s.cells.flatMap((c) => c.targets.flatMap((t) => t.arms.map((a) => [c.name, `${t.target}×`, a.arm, pt(a.final.mean), pt(a.final.std), pt(a.pruned.mean)]))),
    },
    {
      title: 'Cells',
      columns: ['cell', 'chosen metanetwork epoch', 'comparison time (min)'],
      rows: s.cells.map((c) => [c.name, c.chosenEpoch, Number((c.seconds / 60).toFixed(1))]),
    },
  ];
  const best = s.bestOnValidation;
  return writeReport(dir, {
    title: 'metaprune study',
    subtitle: `${s.cells.length} cells`,
    summary: { cells: s.cells.length, bestOnValidation: best ? `${best.name} (${pt(best.meanValDiff)} pt validation (a)−(b))` : 'none' },
    config: s.config,
    environment: collectEnvironment({ backend: getBackend() }),
    charts, tables,
  });
}
