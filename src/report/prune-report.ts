/**
 * The report `prune-onnx` writes next to the pruned model: per-layer widths, MACs/params before and
 * after, and the measured onnxruntime latency speed-up against the MACs speed-up per batch size.
 */
import { barChart } from './charts.js';
import { renderReport, type ReportChart, type ReportTable } from './html.js';
import { writeTextAtomic } from './metrics.js';
import { collectEnvironment } from './environment.js';

export interface PruneReportData {
  readonly model: string;
  readonly out: string;
  readonly macsBefore: number;
  readonly macsAfter: number;
  readonly paramsBefore: number;
  readonly paramsAfter: number;
  readonly layers: ReadonlyArray<{ name: string; before: number; after: number }>;
  readonly latency?: { runtime: string; runs: number; rows: ReadonlyArray<{ batch: number; beforeMs: number; afterMs: number; speedup: number }> } | null;
  readonly latencyNote?: string;
  readonly accBefore?: number;
  readonly accAfter?: number;
  readonly accFinetuned?: number;
  /** Everything else worth keeping (flags, importance, ...), shown under Configuration. */
  readonly config: object;
}

/** Path of the report for a pruned model file: `model-pruned.onnx` → `model-pruned.report.html`. */
export function pruneReportPath(out: string): string {
  return `${out.replace(/\.onnx$/i, '')}.report.html`;
}

export function buildPruneReport(d: PruneReportData, backend: string): string {
  const speedup = d.macsBefore / d.macsAfter;
  const charts: ReportChart[] = [{
    title: 'Channels per layer',
    svg: barChart({
      title: 'Output channels before / after pruning', categories: d.layers.map((l) => l.name), yLabel: 'output channels', valueLabels: false,
      series: [{ name: 'before', values: d.layers.map((l) => l.before), color: '#999999' }, { name: 'after', values: d.layers.map((l) => l.after) }],
    }),
  }];
  const tables: ReportTable[] = [{
    title: 'MACs and parameters',
    columns: ['', 'before', 'after', 'ratio'],
    rows: [
      ['MACs', d.macsBefore, d.macsAfter, `${speedup.toFixed(2)}× fewer`],
      ['parameters', d.paramsBefore, d.paramsAfter, `${((100 * d.paramsAfter) / d.paramsBefore).toFixed(2)} % kept`],
    ],
  }];
  const lat = d.latency;
  if (lat && lat.rows.length > 0) {
    charts.push({
      title: 'Measured latency speed-up vs MACs speed-up',
      svg: barChart({
        title: `onnxruntime ${lat.runtime}: speed-up per batch size`, categories: lat.rows.map((r) => `batch ${r.batch}`), yLabel: 'speed-up (×)',
        series: [
          { name: 'measured latency', values: lat.rows.map((r) => r.speedup) },
          { name: 'MACs', values: lat.rows.map(() => speedup), color: '#999999' },
        ],
      }),
      caption: `Median of ${lat.runs} interleaved runs per model. Latency speed-up below the MACs speed-up is the usual cost of odd channel counts and memory-bound layers.`,
    });
    tables.push({
      title: 'Latency (onnxruntime, median ms)',
      columns: ['batch', 'before (ms)', 'after (ms)', 'speed-up', 'MACs speed-up'],
      rows: lat.rows.map((r) => [r.batch, r.beforeMs.toFixed(3), r.afterMs.toFixed(3), `${r.speedup.toFixed(2)}×`, `${speedup.toFixed(2)}×`]),
    });
  }
  const summary: Record<string, unknown> = {
    model: d.model, out: d.out, speedup, macsBefore: d.macsBefore, macsAfter: d.macsAfter, paramsBefore: d.paramsBefore, paramsAfter: d.paramsAfter,
    accBefore: d.accBefore, accAfter: d.accAfter, accFinetuned: d.accFinetuned, latency: d.latencyNote,
  };
  for (const k of Object.keys(summary)) if (summary[k] === undefined) delete summary[k];
  const file = pruneReportPath(d.out);
  writeTextAtomic(file, renderReport({
    title: `metaprune prune-onnx: ${d.model}`, summary, config: d.config, charts, tables,
    environment: collectEnvironment({ backend, extra: lat ? { onnxruntime: lat.runtime } : {} }),
  }));
  return file;
}
