/**
 * Shared pieces of the hand-written SVG charts: fonts and colours, the root element, title,
 * legends, axes and the "no data" mark. Used by ./charts.ts and ./forest-plot.ts.
 */
import { el, text, escapeXml, fmtCoord, estimateTextWidth, truncate, formatTicks, formatValue, type Scale, type Ticks } from './svg.js';
export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
export const TEXT_COLOR = '#222222';
export const MUTED = '#555555';
export const GRID = '#e6e6e6';
export const AXIS = '#333333';
export const TICK_FONT = 11;
export const LABEL_FONT = 12.5;
export const TITLE_FONT = 15;
export const LEGEND_FONT = 12;

/** FNV-1a 32-bit hash, hex. */
export function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Element-id prefix. Derived from the chart's content, so output is deterministic and two
 * different charts inlined in one page do not share clip-path ids (identical charts may, harmlessly).
 */
export function chartId(prefix: string | undefined, kind: string, opts: object): string {
  if (prefix) return prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  return `mp-${kind}-${hash(JSON.stringify(opts))}`;
}

export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly x0: number;
  readonly x1: number;
  readonly y0: number;
  readonly y1: number;
}

export function svgRoot(kind: string, title: string, width: number, height: number, body: string[]): string {
  return el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      class: `chart ${kind}`,
      width,
      height,
      viewBox: `0 0 ${fmtCoord(width)} ${fmtCoord(height)}`,
      role: 'img',
      'aria-label': title,
      'font-family': FONT,
      'font-size': 12,
    },
    el('title', undefined, escapeXml(title)),
    el('rect', { class: 'background', x: 0, y: 0, width, height, fill: '#ffffff' }),
    body,
  );
}

export function titleText(title: string, width: number): string {
  if (!title) return '';
  const maxChars = Math.max(8, Math.floor((width - 20) / (TITLE_FONT * 0.58)));
  return text(truncate(title, maxChars), {
    class: 'chart-title',
    x: width / 2,
    y: 24,
    'text-anchor': 'middle',
    'font-size': TITLE_FONT,
    'font-weight': 600,
    fill: TEXT_COLOR,
  });
}

export interface LegendEntry {
  readonly name: string;
  readonly color: string;
  readonly dash?: string;
  readonly swatch: 'line' | 'box';
}

export const LEGEND_MAX_CHARS = 28;

export function legendWidth(entries: ReadonlyArray<LegendEntry>): number {
  if (entries.length === 0) return 0;
  const w = Math.max(...entries.map((e) => estimateTextWidth(truncate(e.name, LEGEND_MAX_CHARS), LEGEND_FONT)));
  return Math.ceil(30 + w);
}

export interface LegendLayout {
  readonly positions: ReadonlyArray<readonly [number, number]>;
  readonly height: number;
}

export function legendItemWidth(e: LegendEntry): number {
  return 30 + estimateTextWidth(truncate(e.name, LEGEND_MAX_CHARS), LEGEND_FONT) + 18;
}

/** Flows legend items left to right in rows of at most `maxWidth` px, starting at (x, y). */
export function flowLegend(entries: ReadonlyArray<LegendEntry>, x: number, y: number, maxWidth: number): LegendLayout {
  const positions: Array<[number, number]> = [];
  let cx = x;
  let row = 0;
  for (const e of entries) {
    const w = legendItemWidth(e);
    if (cx > x && cx + w - 18 > x + maxWidth) {
      row += 1;
      cx = x;
    }
    positions.push([cx, y + row * 20]);
    cx += w;
  }
  return { positions, height: entries.length ? (row + 1) * 20 : 0 };
}

/** Stacks legend items vertically at (x, y). */
export function stackLegend(entries: ReadonlyArray<LegendEntry>, x: number, y: number): LegendLayout {
  return { positions: entries.map((_, i) => [x, y + i * 20] as const), height: entries.length * 20 };
}

/** A right-hand legend is used while it takes at most this share of the chart width. */
export const RIGHT_LEGEND_MAX_SHARE = 0.24;

export function legend(entries: ReadonlyArray<LegendEntry>, layout: LegendLayout): string {
  if (entries.length === 0) return '';
  const items = entries.map((e, i) => {
    const [x, y] = layout.positions[i] ?? [0, 0];
    const cy = y + 8;
    const swatch =
      e.swatch === 'line'
        ? el('line', { x1: x, y1: cy, x2: x + 22, y2: cy, stroke: e.color, 'stroke-width': 2.5, 'stroke-dasharray': e.dash })
        : el('rect', { x: x + 4, y: cy - 6, width: 14, height: 12, fill: e.color, rx: 1.5 });
    const label = truncate(e.name, LEGEND_MAX_CHARS);
    return el(
      'g',
      { class: 'legend-item', 'data-series': e.name },
      label !== e.name ? el('title', undefined, escapeXml(e.name)) : '',
      swatch,
      text(label, { x: x + 30, y: cy, dy: '0.35em', 'font-size': LEGEND_FONT, fill: TEXT_COLOR }),
    );
  });
  return el('g', { class: 'legend' }, items);
}

export function axisLabels(frame: Frame, xLabel: string | undefined, yLabel: string | undefined, xLabelY: number): string[] {
  const out: string[] = [];
  if (xLabel) {
    out.push(
      text(xLabel, {
        class: 'axis-label x-label',
        x: (frame.x0 + frame.x1) / 2,
        y: xLabelY,
        'text-anchor': 'middle',
        'font-size': LABEL_FONT,
        fill: TEXT_COLOR,
      }),
    );
  }
  if (yLabel) {
    const cx = 16;
    const cy = (frame.y0 + frame.y1) / 2;
    out.push(
      text(yLabel, {
        class: 'axis-label y-label',
        x: cx,
        y: cy,
        transform: `rotate(-90 ${fmtCoord(cx)} ${fmtCoord(cy)})`,
        'text-anchor': 'middle',
        'font-size': LABEL_FONT,
        fill: TEXT_COLOR,
      }),
    );
  }
  return out;
}

/** Y axis: grid lines, tick marks, labels. Returns [gridMarkup, axisMarkup]. */
export function yAxis(frame: Frame, scale: Scale, ticks: Ticks): [string, string] {
  const grid: string[] = [];
  const parts: string[] = [];
  const labels = formatTicks(ticks.ticks, ticks.step);
  ticks.ticks.forEach((t, ti) => {
    const y = scale.map(t);
    if (y < frame.y0 - 0.5 || y > frame.y1 + 0.5) return;
    grid.push(el('line', { x1: frame.x0, y1: y, x2: frame.x1, y2: y, stroke: GRID, 'stroke-width': 1 }));
    parts.push(el('line', { x1: frame.x0 - 5, y1: y, x2: frame.x0, y2: y, stroke: AXIS, 'stroke-width': 1 }));
    parts.push(
      text(labels[ti] ?? '', {
        class: 'tick-label',
        x: frame.x0 - 8,
        y,
        dy: '0.32em',
        'text-anchor': 'end',
        'font-size': TICK_FONT,
        fill: MUTED,
      }),
    );
  });
  parts.push(el('line', { x1: frame.x0, y1: frame.y0, x2: frame.x0, y2: frame.y1, stroke: AXIS, 'stroke-width': 1 }));
  return [el('g', { class: 'grid y-grid' }, grid), el('g', { class: 'axis y-axis' }, parts)];
}

export function isMajorLogTick(t: number): boolean {
  const m = Number((t / 10 ** Math.floor(Math.log10(t) + 1e-12)).toPrecision(6));
  return m === 1 || m === 2 || m === 5;
}

/** X axis for numeric (line) charts. Labels that would overlap their predecessor are dropped. */
export function xAxis(frame: Frame, scale: Scale, ticks: Ticks): [string, string] {
  const grid: string[] = [];
  const parts: string[] = [];
  let lastRight = -Infinity;
  const denseLog = scale.log && ticks.ticks.length > 6;
  const labels = formatTicks(ticks.ticks, ticks.step);
  for (const [ti, t] of ticks.ticks.entries()) {
    const x = scale.map(t);
    if (x < frame.x0 - 0.5 || x > frame.x1 + 0.5) continue;
    grid.push(el('line', { x1: x, y1: frame.y0, x2: x, y2: frame.y1, stroke: GRID, 'stroke-width': 1 }));
    parts.push(el('line', { x1: x, y1: frame.y1, x2: x, y2: frame.y1 + 5, stroke: AXIS, 'stroke-width': 1 }));
    if (denseLog && !isMajorLogTick(t)) continue;
    const label = scale.log ? formatValue(t) : (labels[ti] ?? '');
    const w = estimateTextWidth(label, TICK_FONT);
    if (x - w / 2 < lastRight + 6) continue;
    lastRight = x + w / 2;
    parts.push(
      text(label, {
        class: 'tick-label',
        x,
        y: frame.y1 + 18,
        'text-anchor': 'middle',
        'font-size': TICK_FONT,
        fill: MUTED,
      }),
    );
  }
  parts.push(el('line', { x1: frame.x0, y1: frame.y1, x2: frame.x1, y2: frame.y1, stroke: AXIS, 'stroke-width': 1 }));
  return [el('g', { class: 'grid x-grid' }, grid), el('g', { class: 'axis x-axis' }, parts)];
}

export function noData(frame: Frame): string {
  return text('no data', {
    class: 'no-data',
    x: (frame.x0 + frame.x1) / 2,
    y: (frame.y0 + frame.y1) / 2,
    dy: '0.35em',
    'text-anchor': 'middle',
    'font-size': 14,
    'font-style': 'italic',
    fill: '#888888',
  });
}

export function validRange(r: readonly [number, number] | undefined, log: boolean): r is readonly [number, number] {
  if (!r) return false;
  const [a, b] = r;
  if (!Number.isFinite(a) || !Number.isFinite(b) || a >= b) return false;
  return !log || a > 0;
}

export function maxTickLabelWidth(ticks: Ticks): number {
  let w = 0;
  for (const l of formatTicks(ticks.ticks, ticks.step)) w = Math.max(w, estimateTextWidth(l, TICK_FONT));
  return w;
}
