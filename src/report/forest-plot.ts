/**
 * Forest plot: one row per comparison, a dot at the estimate and a whisker over its interval,
 * a vertical line at 0, the rows labelled on the left and "estimate [lo, hi]" printed on the right.
 * Made for paired accuracy differences in percentage points, so it answers "which side of 0, how sure".
 *
 * Structure (relied upon by tests): root `<svg class="chart forest-plot">`, `<rect class="plot-area">`,
 * `<line class="zero-line" data-value="0">`, one `<g class="forest-row" data-label data-group data-mean
 * data-lo data-hi data-n>` per row holding `<line class="whisker">` and `<circle class="estimate">`,
 * `<text class="group-label">` before each new group.
 */
import { el, text, escapeXml, estimateTextWidth, truncate, linearScale, niceTicks } from './svg.js';
import { AXIS, MUTED, TEXT_COLOR, TICK_FONT, LABEL_FONT, svgRoot, titleText, xAxis, noData, type Frame } from './chart-parts.js';

export interface ForestRow {
  readonly label: string;
  /** Rows sharing a group are listed under one bold group heading (consecutive rows only). */
  readonly group?: string;
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  /** Number of paired observations behind the interval; printed when given. */
  readonly n?: number;
}

export interface ForestPlotOptions {
  readonly title: string;
  readonly xLabel: string;
  /** Draw the vertical line at 0 and keep 0 inside the axis. Default true. */
  readonly zeroLine?: boolean;
  readonly width?: number;
}

const ROW_H = 22;
const LABEL_MAX_CHARS = 34;
/** Interval above 0, below 0, or straddling it. */
const ABOVE = '#0072B2';
const BELOW = '#D55E00';
const STRADDLE = '#555555';

/** "+1.23 [−0.40, 2.86]" with 2 decimals and a real minus sign. */
export function formatInterval(mean: number, lo: number, hi: number): string {
  const f = (v: number, sign = false): string => {
    if (!Number.isFinite(v)) return 'n/a';
    const s = Math.abs(v).toFixed(2);
    if (Number(s) === 0) return s;
    return v < 0 ? `−${s}` : sign ? `+${s}` : s;
  };
  if (!Number.isFinite(mean)) return 'n/a';
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return f(mean, true);
  return `${f(mean, true)} [${f(lo)}, ${f(hi)}]`;
}

export function forestPlot(rows: ReadonlyArray<ForestRow>, opts: ForestPlotOptions): string {
  const width = opts.width ?? 640;
  const zero = opts.zeroLine !== false;

  // Vertical layout: a heading line whenever the group changes, then one line per row.
  const lines: Array<{ kind: 'group'; group: string } | { kind: 'row'; row: ForestRow }> = [];
  let lastGroup: string | undefined;
  for (const row of rows) {
    if (row.group !== undefined && row.group !== lastGroup) lines.push({ kind: 'group', group: row.group });
    lastGroup = row.group;
    lines.push({ kind: 'row', row });
  }

  const values: number[] = [];
  for (const r of rows) for (const v of [r.mean, r.lo, r.hi]) if (Number.isFinite(v)) values.push(v);
  const empty = !rows.some((r) => Number.isFinite(r.mean));
  if (zero) values.push(0);
  const vMin = values.length ? Math.min(...values) : -1;
  const vMax = values.length ? Math.max(...values) : 1;
  const pad = 0.04 * (vMax - vMin); // keeps end dots and caps off the frame
  const ticks = niceTicks(vMin - pad, vMax + pad, 6);

  const labelW = Math.max(60, ...rows.map((r) => estimateTextWidth(truncate(r.label, LABEL_MAX_CHARS), TICK_FONT + 1) + 12));
  const groupW = Math.max(0, ...lines.map((l) => (l.kind === 'group' ? estimateTextWidth(l.group, TICK_FONT + 1) : 0)));
  const intervalTexts = rows.map((r) => formatInterval(r.mean, r.lo, r.hi) + (r.n !== undefined ? `  n=${r.n}` : ''));
  const valueW = Math.max(90, ...intervalTexts.map((s) => estimateTextWidth(s, TICK_FONT)));
  const marginTop = (opts.title ? 44 : 16) + 16; // + column headings
  const x0 = Math.ceil(Math.max(labelW, groupW - 20) + 16);
  const frame: Frame = {
    width,
    height: 0,
    x0,
    x1: Math.max(x0 + 120, width - valueW - 24),
    y0: marginTop,
    y1: marginTop + Math.max(1, lines.length) * ROW_H + 6,
  };
  const height = frame.y1 + 50;
  const xs = linearScale(ticks.domain, [frame.x0, frame.x1]);
  const [xGrid, xAx] = xAxis(frame, xs, ticks);

  let rowIndex = 0;
  const body: string[] = [];
  const bands: string[] = [];
  lines.forEach((line, li) => {
    const cy = frame.y0 + 3 + (li + 0.5) * ROW_H;
    if (line.kind === 'group') {
      body.push(text(line.group, { class: 'group-label', x: 8, y: cy, dy: '0.35em', 'font-size': TICK_FONT + 1, 'font-weight': 600, fill: TEXT_COLOR }));
      return;
    }
    const r = line.row;
    const label = truncate(r.label, LABEL_MAX_CHARS);
    const shade = rowIndex++ % 2 === 0;
    const finiteCI = Number.isFinite(r.lo) && Number.isFinite(r.hi);
    const colour = !finiteCI ? STRADDLE : r.lo > 0 ? ABOVE : r.hi < 0 ? BELOW : STRADDLE;
    const parts: string[] = [];
    if (shade) bands.push(el('rect', { class: 'row-band', x: 0, y: cy - ROW_H / 2, width, height: ROW_H, fill: '#f6f6f6' }));
    parts.push(
      el('text', { class: 'row-label', x: frame.x0 - 12, y: cy, dy: '0.35em', 'text-anchor': 'end', 'font-size': TICK_FONT + 1, fill: TEXT_COLOR },
        label !== r.label ? el('title', undefined, escapeXml(r.label)) : '', escapeXml(label)),
    );
    if (Number.isFinite(r.mean)) {
      const tip = el('title', undefined, escapeXml(`${r.label}: ${intervalTexts[rowIndex - 1]}`));
      if (finiteCI) {
        const a = xs.map(Math.min(r.lo, r.hi));
        const b = xs.map(Math.max(r.lo, r.hi));
        parts.push(el('line', { class: 'whisker', x1: a, y1: cy, x2: b, y2: cy, stroke: colour, 'stroke-width': 2 }));
        for (const x of [a, b]) parts.push(el('line', { class: 'whisker-cap', x1: x, y1: cy - 5, x2: x, y2: cy + 5, stroke: colour, 'stroke-width': 2 }));
      }
      parts.push(el('circle', { class: 'estimate', cx: xs.map(r.mean), cy, r: 4.5, fill: colour, stroke: '#ffffff', 'stroke-width': 1 }, tip));
    }
    parts.push(text(intervalTexts[rowIndex - 1] ?? '', { class: 'row-value', x: frame.x1 + 14, y: cy, dy: '0.35em', 'font-size': TICK_FONT, fill: MUTED }));
    body.push(
      el('g', {
        class: 'forest-row', 'data-label': r.label, 'data-group': r.group, 'data-mean': String(r.mean),
        'data-lo': String(r.lo), 'data-hi': String(r.hi), 'data-n': r.n === undefined ? undefined : String(r.n),
      }, parts),
    );
  });

  const zeroX = xs.map(0);
  const zeroMark = zero && zeroX >= frame.x0 - 0.5 && zeroX <= frame.x1 + 0.5
    ? el('line', { class: 'zero-line', 'data-value': '0', x1: zeroX, y1: frame.y0, x2: zeroX, y2: frame.y1, stroke: AXIS, 'stroke-width': 1.2 })
    : '';
  const headings = [
    text('estimate [interval]', { class: 'column-heading', x: frame.x1 + 14, y: frame.y0 - 4, 'font-size': TICK_FONT, 'font-weight': 600, fill: MUTED }),
  ];
  const markup = [
    el('g', { class: 'row-bands' }, bands),
    xGrid,
    zeroMark,
    el('g', { class: 'rows' }, body),
    el('rect', { class: 'plot-area', x: frame.x0, y: frame.y0, width: frame.x1 - frame.x0, height: frame.y1 - frame.y0, fill: 'none', stroke: '#cccccc', 'stroke-width': 1 }),
    xAx,
    ...headings,
    text(opts.xLabel, { class: 'axis-label x-label', x: (frame.x0 + frame.x1) / 2, y: frame.y1 + 42, 'text-anchor': 'middle', 'font-size': LABEL_FONT, fill: TEXT_COLOR }),
    titleText(opts.title, width),
    empty ? noData(frame) : '',
  ];
  return svgRoot('forest-plot', opts.title, width, height, markup);
}
