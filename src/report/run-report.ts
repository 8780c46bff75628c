/**
 * Builds `report.html` for any run directory from the files it holds: config.json,
 * summary.json, metrics.jsonl and, for Meta Pruning runs, selection.json and compare.json.
 * Reads plain JSON (no imports from the pipeline), so it works on any run layout it recognizes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lineChart, barChart, type LineSeries } from './charts.js';
import { writeReport, type ReportChart, type ReportTable } from './html.js';
import { readMetrics, metricSeries } from './metrics.js';
import { collectEnvironment } from './environment.js';

function readJson(file: string): unknown {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown) : undefined;
}

interface CurvePoint { speedup: number; acc: number }
interface Member { epoch: number | null; startAcc: number; farAcc: number; eligible: boolean; curves: { model: number; curve: CurvePoint[] }[] }
interface Selection { chosen: number; original: Member; family: Member[]; rule: string }
interface CompareRow { arm: string; target: number; accFinal: number; accPruned: number; seed: number }
interface CompareSummary { arm: string; target: number; mean: number; std: number; n: number; meanPruned: number }

/** Mean curve over models (points matched by index; each model has the same sample points). */
function meanCurve(m: Member): [number, number][] {
  const n = Math.min(...m.curves.map((c) => c.curve.length));
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const sp = m.curves.reduce((s, c) => s + c.curve[i].speedup, 0) / m.curves.length;
    const acc = m.curves.reduce((s, c) => s + c.curve[i].acc, 0) / m.curves.length;
    out.push([sp, 100 * acc]);
  }
  return out;
}

export function buildRunReport(runDir: string, backend: string): string {
  const config = (readJson(join(runDir, 'config.json')) ?? {}) as object;
  const summary = (readJson(join(runDir, 'summary.json')) ?? {}) as Record<string, unknown>;
  const metrics = readMetrics(join(runDir, 'metrics.jsonl'));
  const charts: ReportChart[] = [];
  const tables: ReportTable[] = [];

  const sel = (readJson(join(runDir, 'selection.json')) as { value: Selection } | undefined)?.value;
  if (sel) {
    const series: LineSeries[] = [{ name: 'original', points: meanCurve(sel.original) }];
    for (const m of sel.family) series.push({ name: `epoch ${m.epoch}${m.epoch === sel.chosen ? ' (chosen)' : ''}`, points: meanCurve(m) });
    charts.push({
      title: 'Accuracy vs MACs speed-up without finetuning (validation, mean over held-out data models)',
      svg: lineChart({ title: 'No-finetune pruning curves', xLabel: 'MACs speed-up (×)', yLabel: 'validation accuracy (%)', series }),
      caption: sel.rule,
    });
    tables.push({
      title: 'Curve family',
      columns: ['metanetwork epoch', 'unpruned acc (%)', 'mean acc at far speed-ups (%)', 'eligible'],
      rows: [[`original`, 100 * sel.original.startAcc, 100 * sel.original.farAcc, ''],
        ...sel.family.map((m) => [String(m.epoch), 100 * m.startAcc, 100 * m.farAcc, m.eligible ? (m.epoch === sel.chosen ? 'chosen' : 'yes') : 'no'])],
    });
  }

  const cmp = (readJson(join(runDir, 'compare.json')) as { value: { rows: CompareRow[]; summary: CompareSummary[] } } | undefined)?.value;
  if (cmp) {
    const targets = [...new Set(cmp.summary.map((r) => r.target))];
    const arms = [...new Set(cmp.summary.map((r) => r.arm))];
    const means = cmp.summary.map((r) => 100 * r.mean);
    const lo = Math.max(0, Math.floor(Math.min(...means) - 5));
    charts.push({
      title: 'Test accuracy after pruning and finetuning (mean over seeds)',
      svg: barChart({
        title: 'Comparison of arms', categories: targets.map((t) => `${t}×`), yLabel: 'test accuracy (%)', yRange: [lo, 100],
        series: arms.map((a) => ({ name: a, values: targets.map((t) => 100 * (cmp.summary.find((r) => r.arm === a && r.target === t)?.mean ?? NaN)) })),
      }),
    });
    tables.push({
      title: 'Comparison (test accuracy %, mean ± std over seeds)',
      columns: ['arm', 'target', 'finetuned mean', 'std', 'n', 'right after pruning'],
      rows: cmp.summary.map((r) => [r.arm, `${r.target}×`, 100 * r.mean, 100 * r.std, r.n, 100 * r.meanPruned]),
    });
  }

  const meta = metrics.filter((r) => r['kind'] === 'meta-step');
  if (meta.length > 0) {
    charts.push({
      title: 'Meta-training',
      svg: lineChart({
        title: 'Meta-training loss terms', xLabel: 'step', yLabel: 'value',
        series: [
          { name: 'Σ CE', points: metricSeries(meta, 'step', 'ce') },
          { name: 'R', points: metricSeries(meta, 'step', 'r') },
        ],
      }),
    });
  }
  const epochs = metrics.filter((r) => r['kind'] === 'epoch');
  if (epochs.length > 0) {
    charts.push({
      title: 'Training curves',
      svg: lineChart({
        title: 'Training', xLabel: 'epoch', yLabel: 'accuracy (%)',
        series: [
          { name: 'train acc', points: metricSeries(epochs, (r) => Number(r['epoch']) + 1, 'trainAcc').map(([x, y]) => [x, 100 * y] as [number, number]) },
          { name: 'test acc', points: metricSeries(epochs, (r) => Number(r['epoch']) + 1, 'testAcc').map(([x, y]) => [x, 100 * y] as [number, number]) },
        ],
      }),
    });
  }
  const layers = summary['layers'] as { name: string; before: number; after: number }[] | undefined;
  if (Array.isArray(layers) && layers.length > 0) {
    charts.push({
      title: 'Channels per layer',
      svg: barChart({
        title: 'Output channels before / after pruning', categories: layers.map((l) => l.name), yLabel: 'channels',
        series: [{ name: 'before', values: layers.map((l) => l.before) }, { name: 'after', values: layers.map((l) => l.after) }],
      }),
    });
  }
  return writeReport(runDir, {
    title: `metaprune report: ${runDir}`,
    summary, config, charts, tables,
    environment: collectEnvironment({ backend }),
  });
}
