/**
 * Builds `report.html` for any run directory from the files it holds: config.json,
 * summary.json, metrics.jsonl and, for Meta Pruning runs, selection.json and compare.json.
 * Reads plain JSON (no imports from the pipeline), so it works on any run layout it recognizes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lineChart, barChart } from './charts.js';
import { writeReport, type ReportChart, type ReportTable } from './html.js';
import { readMetrics, metricSeries } from './metrics.js';
import { collectEnvironment } from './environment.js';
import { selectionCharts, comparisonCharts, metaTrainingCharts, widthCharts, type Selection, type CompareRow, type CompareSummary } from './pipeline-sections.js';

function readJson(file: string): unknown {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as unknown) : undefined;
}

function numberAt(obj: unknown, ...path: string[]): number | undefined {
  let v: unknown = obj;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function buildRunReport(runDir: string, backend: string): string {
  const config = (readJson(join(runDir, 'config.json')) ?? {}) as object;
  const summary = (readJson(join(runDir, 'summary.json')) ?? {}) as Record<string, unknown>;
  const metrics = readMetrics(join(runDir, 'metrics.jsonl'));
  const charts: ReportChart[] = [];
  const tables: ReportTable[] = [];

  const cmp = (readJson(join(runDir, 'compare.json')) as { value: { rows: CompareRow[]; summary: CompareSummary[] } } | undefined)?.value;
  if (cmp) {
    const c = comparisonCharts(cmp.rows ?? [], cmp.summary ?? []);
    charts.push(...c.charts, ...widthCharts(cmp.rows ?? []));
    tables.push(...c.tables);
  }

  const sel = (readJson(join(runDir, 'selection.json')) as { value: Selection } | undefined)?.value;
  if (sel) {
    charts.push(...selectionCharts(sel, numberAt(config, 'select', 'tolerance'), numberAt(config, 'select', 'farFrom')));
    tables.push({
      title: 'Curve family',
      columns: ['metanetwork epoch', 'unpruned acc (%)', 'mean acc at far speed-ups (%)', 'eligible'],
      rows: [[`original`, pct(sel.original.startAcc), pct(sel.original.farAcc), ''],
        ...sel.family.map((m) => [String(m.epoch), pct(m.startAcc), pct(m.farAcc), m.eligible ? (m.epoch === sel.chosen ? 'chosen' : 'yes') : 'no'])],
    });
  }

  const meta = metrics.filter((r) => r['kind'] === 'meta-step');
  if (meta.length > 0) charts.push(...metaTrainingCharts(meta));
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
  tables.push(...runTables(summary));
  return writeReport(runDir, {
    title: `metaprune report: ${runDir}`,
    summary, config, charts, tables,
    environment: collectEnvironment({ backend }),
  });
}

/** A fraction as a percentage string with 2 decimals. */
function pct(v: number): string {
  return Number.isFinite(v) ? (100 * v).toFixed(2) : '—';
}

/** Zoo accuracies and wall time per stage, when summary.json records them. */
function runTables(summary: Record<string, unknown>): ReportTable[] {
  const out: ReportTable[] = [];
  const zoo = summary['zoo'];
  if (Array.isArray(zoo) && zoo.length > 0) {
    const z = zoo as { seed?: number; split?: string; acc?: number; trainedAcc?: number; speedup?: number; seconds?: number }[];
    out.push({
      title: 'Data-model zoo (test accuracy %)',
      columns: ['seed', 'split', 'trained', 'after pre-pruning + finetune', 'pre-pruning speed-up', 'seconds'],
      rows: z.map((e) => [e.seed, e.split, e.trainedAcc === undefined ? undefined : pct(e.trainedAcc), e.acc === undefined ? undefined : pct(e.acc),
        e.speedup === undefined ? undefined : `${e.speedup.toFixed(2)}×`, e.seconds === undefined ? undefined : Math.round(e.seconds)]),
    });
  }
  const stages = summary['stageSeconds'];
  if (stages !== null && typeof stages === 'object' && Object.keys(stages).length > 0) {
    const entries = Object.entries(stages as Record<string, number>);
    const total = entries.reduce((s, [, v]) => s + v, 0);
    out.push({
      title: 'Wall time per stage',
      columns: ['stage', 'seconds', 'share'],
      rows: [...entries.map(([k, v]) => [k, v.toFixed(1), `${((100 * v) / total).toFixed(1)} %`]), ['total', total.toFixed(1), '100.0 %']],
      caption: 'This invocation only: stages resumed from an earlier run show the remaining work.',
    });
  }
  return out;
}
