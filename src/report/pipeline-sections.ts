/**
 * The Meta Pruning run report's charts, each built to answer one question at a glance:
 *  - comparison: did Meta Pruning help, and how sure are we? (bars from 0 with whiskers, before and
 *    after finetuning side by side, and a forest plot of the paired differences);
 *  - curve family + selection: what did each metanetwork epoch do, and why was this one chosen?
 *  - meta-training: how ΣCE, R, the gradient balance and the BN scales moved, with lr steps marked.
 * Input is the plain JSON of selection.json, compare.json and metrics.jsonl.
 */
import { lineChart, barChart, forestPlot, type LineSeries, type ForestRow, type RefLine } from './charts.js';
import { sequentialColor, lighten, seriesColor } from './svg.js';
import { summarizeMean } from './stats.js';
import type { ReportChart, ReportTable } from './html.js';
import type { MetricsRecord } from './metrics.js';

export interface CurvePoint { speedup: number; acc: number }
export interface Member { epoch: number | null; startAcc: number; farAcc: number; eligible: boolean; curves: { model: number; curve: CurvePoint[] }[] }
export interface Selection { chosen: number; original: Member; family: Member[]; rule: string }
export interface CompareRow { arm: string; target: number; accFinal: number; accPruned: number; seed: number; layers?: { name: string; before: number; after: number }[] }
export interface CompareSummary { arm: string; target: number; mean: number; std: number; n: number; meanPruned: number }

/** Letters used in the method for the three arms. */
const ARM_LETTER: Readonly<Record<string, string>> = { metanet: '(a)', 'prune-only': '(b)', 'sparse-train': '(c)' };
const letter = (arm: string): string => ARM_LETTER[arm] ?? arm;
/** One colour per arm across all charts. */
const armColor = (arm: string, fallback: number): string => seriesColor(Object.keys(ARM_LETTER).includes(arm) ? Object.keys(ARM_LETTER).indexOf(arm) : fallback);

/** Mean curve over models (points matched by index; each model has the same sample points). */
export function meanCurve(m: Member): [number, number][] {
  if (m.curves.length === 0) return [];
  const n = Math.min(...m.curves.map((c) => c.curve.length));
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const sp = m.curves.reduce((s, c) => s + (c.curve[i] as CurvePoint).speedup, 0) / m.curves.length;
    const acc = m.curves.reduce((s, c) => s + (c.curve[i] as CurvePoint).acc, 0) / m.curves.length;
    out.push([sp, 100 * acc]);
  }
  return out;
}

/** Curve family (sequential colours by meta-epoch, original black, chosen thick) and the selection chart. */
export function selectionCharts(sel: Selection, tolerance: number | undefined, farFrom: number | undefined): ReportChart[] {
  const epochs = sel.family.map((m) => m.epoch ?? 0);
  const e0 = Math.min(...epochs);
  const e1 = Math.max(...epochs);
  const colourOf = (e: number): string => sequentialColor(e1 > e0 ? (e - e0) / (e1 - e0) : 0);
  const curves = sel.family.map((m) => ({ m, points: meanCurve(m) }));
  const chosen = curves.find((c) => c.m.epoch === sel.chosen);
  const series: LineSeries[] = curves
    .filter((c) => c !== chosen)
    .map((c) => ({ name: `epoch ${c.m.epoch}`, points: c.points, color: colourOf(c.m.epoch ?? 0), legend: false, strokeWidth: 1.5 }));
  series.push({ name: 'original (no metanetwork)', points: meanCurve(sel.original), color: '#000000', strokeWidth: 2.5 });
  if (chosen) {
    series.push({ name: `epoch ${sel.chosen} (chosen)`, points: chosen.points, color: colourOf(sel.chosen), strokeWidth: 4.5, label: `epoch ${sel.chosen}` });
  }
  const xs = [...curves.flatMap((c) => c.points), ...meanCurve(sel.original)].map((p) => p[0]).filter(Number.isFinite);
  const xRange: [number, number] | undefined = xs.length > 1 ? [Math.min(...xs), Math.max(...xs)] : undefined;
  const out: ReportChart[] = [{
    title: 'Accuracy vs MACs speed-up without finetuning (validation, mean over held-out data models)',
    svg: lineChart({
      title: 'No-finetune pruning curves per metanetwork epoch', xLabel: 'MACs speed-up (×)', yLabel: 'validation accuracy (%)',
      series, markers: false, ...(xRange && xRange[1] > xRange[0] ? { xRange } : {}),
      ...(e1 > e0 ? { colorBar: { title: 'meta-epoch', min: e0, max: e1, color: sequentialColor } } : {}),
    }),
    caption: `Colour runs from early (dark) to late (light) meta-epochs. ${sel.rule}.`,
  }];

  const orig = sel.original;
  const refLines: RefLine[] = [
    { axis: 'y', value: 100 * orig.startAcc, label: 'original, unpruned' },
    { axis: 'y', value: 100 * orig.farAcc, label: `original, mean at ≥ ${farFrom ?? '?'}×` },
  ];
  const top = Math.max(orig.startAcc, ...sel.family.map((m) => m.startAcc));
  const point = sel.family.find((m) => m.epoch === sel.chosen);
  out.push({
    title: 'Checkpoint selection: the rule as drawn',
    svg: lineChart({
      title: 'Selection by meta-epoch', xLabel: 'meta-epoch', yLabel: 'validation accuracy (%)',
      series: [
        { name: 'unpruned', points: sel.family.map((m) => [m.epoch ?? 0, 100 * m.startAcc]), color: seriesColor(0) },
        { name: `mean at ≥ ${farFrom ?? '?'}×`, points: sel.family.map((m) => [m.epoch ?? 0, 100 * m.farAcc]), color: seriesColor(1) },
        ...(point ? [{ name: 'chosen', points: [[point.epoch ?? 0, 100 * point.farAcc]] as [number, number][], color: '#000000', markerRadius: 7, label: `chosen: epoch ${sel.chosen}` }] : []),
      ],
      refLines,
      bands: tolerance !== undefined ? [{ axis: 'y', from: 100 * (orig.startAcc - tolerance), to: 100 * top, label: `eligible: unpruned within ${(100 * tolerance).toFixed(1)} pt of the original` }] : [],
    }),
    caption: 'Among the epochs whose unpruned accuracy (blue) lies in the shaded band, the one with the highest mean accuracy at far speed-ups (vermillion) is chosen.',
  });
  return out;
}

/** Per (arm, target): mean and sd over seeds of a per-row value, in percent. */
function cell(rows: ReadonlyArray<CompareRow>, arm: string, target: number, value: (r: CompareRow) => number) {
  return summarizeMean(rows.filter((r) => r.arm === arm && r.target === target).map((r) => 100 * value(r)));
}

/** Bars from 0 (mean ± sd over seeds), before and after finetuning per arm and target, plus the paired differences. */
export function comparisonCharts(rows: ReadonlyArray<CompareRow>, summary: ReadonlyArray<CompareSummary>): { charts: ReportChart[]; tables: ReportTable[] } {
  const targets = [...new Set(summary.map((r) => r.target))].sort((a, b) => a - b);
  const arms = [...new Set(summary.map((r) => r.arm))];
  // Without per-seed rows (older runs), fall back to the stored summary: finetuned mean ± std, pruned mean only.
  const stat = (arm: string, t: number, phase: 'pruned' | 'final') => {
    if (rows.length > 0) {
      const s = cell(rows, arm, t, (r) => (phase === 'final' ? r.accFinal : r.accPruned));
      return { mean: s.mean, lo: s.mean - s.sd, hi: s.mean + s.sd, sd: s.sd, n: s.n };
    }
    const r = summary.find((x) => x.arm === arm && x.target === t);
    if (!r) return { mean: NaN, lo: NaN, hi: NaN, sd: NaN, n: 0 };
    return phase === 'final'
      ? { mean: 100 * r.mean, lo: 100 * (r.mean - r.std), hi: 100 * (r.mean + r.std), sd: 100 * r.std, n: r.n }
      : { mean: 100 * r.meanPruned, lo: NaN, hi: NaN, sd: NaN, n: r.n };
  };
  const series = arms.flatMap((arm, a) =>
    (['pruned', 'final'] as const).map((phase) => {
      const ss = targets.map((t) => stat(arm, t, phase));
      return {
        name: `${letter(arm)} ${arm} · ${phase === 'final' ? 'finetuned' : 'pruned'}`,
        color: phase === 'final' ? armColor(arm, a) : lighten(armColor(arm, a), 0.6),
        values: ss.map((s) => s.mean), lo: ss.map((s) => s.lo), hi: ss.map((s) => s.hi),
      };
    }),
  );
  const n = Math.max(0, ...summary.map((r) => r.n));
  const charts: ReportChart[] = [{
    title: 'Test accuracy right after pruning and after finetuning',
    svg: barChart({
      title: 'Comparison of arms at each MACs target', categories: targets.map((t) => `${t}×`), xLabel: 'MACs speed-up target',
      yLabel: 'test accuracy (%)', yRange: [0, 100], series, valueLabels: false, width: 900,
    }),
    caption: `Bars: mean over ${n} seed(s); whiskers: ± one standard deviation over seeds. Light bars: right after pruning; dark bars: after finetuning. The axis starts at 0.`,
  }];

  const forest: ForestRow[] = [];
  if (rows.length > 0 && arms.includes('metanet')) {
    for (const [phase, group] of [['final', 'after finetuning'], ['pruned', 'right after pruning']] as const) {
      for (const t of targets) {
        for (const other of arms.filter((a) => a !== 'metanet')) {
          const diffs: number[] = [];
          for (const r of rows.filter((x) => x.arm === 'metanet' && x.target === t)) {
            const o = rows.find((x) => x.arm === other && x.target === t && x.seed === r.seed);
            if (o) diffs.push(100 * (phase === 'final' ? r.accFinal - o.accFinal : r.accPruned - o.accPruned));
          }
          const s = summarizeMean(diffs);
          forest.push({ label: `${letter('metanet')} − ${letter(other)} at ${t}×`, group, mean: s.mean, lo: s.lo, hi: s.hi, n: s.n });
        }
      }
    }
    charts.push({
      title: 'Paired differences: Meta Pruning minus each baseline',
      svg: forestPlot(forest, { title: 'Meta Pruning minus baseline, paired by seed', xLabel: 'test accuracy difference (percentage points)' }),
      caption: 'Dot: mean of the per-seed differences; whisker: its 95 % t-interval (none with a single seed). Blue: the interval lies above 0 (Meta Pruning better); vermillion: below 0.',
    });
  }
  const tables: ReportTable[] = [{
    title: 'Comparison (test accuracy %, mean ± sd over seeds)',
    columns: ['arm', 'target', 'right after pruning', 'finetuned', 'sd (finetuned)', 'n'],
    rows: arms.flatMap((arm) => targets.map((t) => {
      const p = stat(arm, t, 'pruned');
      const f = stat(arm, t, 'final');
      return [`${letter(arm)} ${arm}`, `${t}×`, pct(p.mean), pct(f.mean), pct(f.sd), f.n];
    })),
  }];
  return { charts, tables };
}

const pct = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '—');

/** Per-epoch mean of a numeric field of meta-step records. */
function perEpoch(steps: ReadonlyArray<MetricsRecord>, key: string): [number, number][] {
  const sums = new Map<number, { s: number; n: number }>();
  for (const r of steps) {
    const e = Number(r['epoch']);
    const v = Number(r[key]);
    if (!Number.isFinite(e) || !Number.isFinite(v)) continue;
    const c = sums.get(e) ?? { s: 0, n: 0 };
    c.s += v;
    c.n += 1;
    sums.set(e, c);
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([e, c]) => [e, c.s / c.n]);
}

/** Meta-training in panels by epoch (ΣCE, R, gradient balance, BN scales) with the lr steps marked. */
export function metaTrainingCharts(steps: ReadonlyArray<MetricsRecord>): ReportChart[] {
  const lrs = perEpoch(steps, 'lr');
  const lrSteps: RefLine[] = [];
  for (let i = 1; i < lrs.length; i++) {
    const [e, lr] = lrs[i] as [number, number];
    if (lr !== (lrs[i - 1] as [number, number])[1]) lrSteps.push({ axis: 'x', value: e - 0.5, label: `lr ${Number(lr.toPrecision(3))}` });
  }
  const panel = (title: string, yLabel: string, series: LineSeries[], logNote = ''): ReportChart => ({
    title,
    svg: lineChart({ title, xLabel: 'meta-epoch', yLabel, series, refLines: lrSteps, height: 280 }),
    caption: `Mean over the epoch's steps; dashed verticals mark learning-rate steps.${logNote}`,
  });
  const charts = [
    panel('Σ CE of the generated networks', 'Σ CE', [{ name: 'Σ CE', points: perEpoch(steps, 'ce') }]),
    panel('Sparsity regularizer R', 'R', [{ name: 'R', points: perEpoch(steps, 'r'), color: seriesColor(1) }]),
  ];
  if (steps.some((r) => Number.isFinite(Number(r['ratio'])))) {
    charts.push(panel('Gradient balance ‖∇R‖ / ‖∇CE‖', 'ratio', [{ name: '‖∇R‖/‖∇CE‖', points: perEpoch(steps, 'ratio'), color: seriesColor(2) }]));
  }
  if (steps.some((r) => Number.isFinite(Number(r['bnGammaRatio'])))) {
    charts.push(panel('BN scales of the generated networks', 'ratio / share', [
      { name: "mean |γ'|/|γ|", points: perEpoch(steps, 'bnGammaRatio'), color: seriesColor(3) },
      { name: "share with |γ'| < |γ|/2", points: perEpoch(steps, 'bnGammaShrunk'), color: seriesColor(4) },
    ], ' Shrinking the weak channels makes a network easy to prune; shrinking all of them is a collapse.'));
  }
  return charts;
}

/** Per target: mean output width per layer of the data models and of each arm's final pruned networks. */
export function widthCharts(rows: ReadonlyArray<CompareRow>): ReportChart[] {
  const withLayers = rows.filter((r) => Array.isArray(r.layers) && r.layers.length > 0);
  const charts: ReportChart[] = [];
  for (const t of [...new Set(withLayers.map((r) => r.target))].sort((a, b) => a - b)) {
    const rs = withLayers.filter((r) => r.target === t);
    const names = (rs[0]?.layers ?? []).map((l) => l.name);
    const mean = (sel: ReadonlyArray<CompareRow>, name: string, key: 'before' | 'after') =>
      summarizeMean(sel.map((r) => r.layers?.find((l) => l.name === name)?.[key] ?? NaN)).mean;
    const arms = [...new Set(rs.map((r) => r.arm))];
    charts.push({
      title: `Channels per layer at ${t}× (final pruned networks)`,
      svg: barChart({
        title: `Output channels per layer, target ${t}×`, categories: names, yLabel: 'output channels', valueLabels: false,
        series: [
          { name: 'data model', values: names.map((n) => mean(rs, n, 'before')), color: '#999999' },
          ...arms.map((arm) => ({ name: `${letter(arm)} ${arm}`, values: names.map((n) => mean(rs.filter((r) => r.arm === arm), n, 'after')), color: armColor(arm, 3) })),
        ],
      }),
      caption: 'Mean over seeds. "data model" is the (pre-pruned) network each arm starts from.',
    });
  }
  return charts;
}
