/**
 * Hand-written, dependency-free SVG charts in a clean publication style.
 *
 *  - {@link lineChart}: several (x, y) series, e.g. accuracy vs. MACs speed-up, loss/accuracy per
 *    epoch, meta-training CE and R over steps.
 *  - {@link barChart}: grouped bars, e.g. per-layer channel counts before/after pruning.
 *
 * Structure (stable, relied upon by tests and handy for post-processing):
 *  - root `<svg class="chart line-chart|bar-chart">` with a `<title>`;
 *  - `<rect class="plot-area" x y width height>` — the data rectangle;
 *  - `<g class="axis x-axis">` / `<g class="axis y-axis">` with `<text class="tick-label">`;
 *  - `<text class="axis-label x-label|y-label">`, `<text class="chart-title">`;
 *  - one `<g class="series" data-series="NAME" data-points="N">` per series, containing a
 *    `<path class="line">` and one `<circle class="point" data-x data-y>` per finite point
 *    (line charts) or one `<rect class="bar" data-category data-value>` per finite value (bar charts);
 *  - `<g class="legend">` with `<g class="legend-item" data-series="NAME">`;
 *  - `<text class="no-data">no data</text>` when nothing can be plotted.
 *
 * Non-finite values (NaN, ±Infinity, and non-positive x on a log axis) are skipped; a line is
 * broken at a skipped point rather than bridging the gap.
 */
import { el, text, escapeXml, fmtCoord, seriesColor, seriesDash, estimateTextWidth, truncate, linearScale, logScale, niceTicks, logTicks, formatValue, type Ticks } from './svg.js';
import {
  AXIS, MUTED, TICK_FONT, chartId, svgRoot, titleText, legendWidth, flowLegend, stackLegend, legend, axisLabels,
  yAxis, xAxis, noData, validRange, maxTickLabelWidth, RIGHT_LEGEND_MAX_SHARE, type Frame, type LegendEntry,
} from './chart-parts.js';

export { forestPlot, formatInterval, type ForestRow, type ForestPlotOptions } from './forest-plot.js';

export type Point = readonly [number, number];

export interface LineSeries {
  readonly name: string;
  readonly points: ReadonlyArray<Point>;
  /** Override the palette colour (any CSS colour). */
  readonly color?: string;
  /** Line width in px. Default 2. */
  readonly strokeWidth?: number;
  /** Marker radius in px. Default 3.2. */
  readonly markerRadius?: number;
  /** Text drawn next to the series' last point (e.g. "epoch 12 (chosen)"). */
  readonly label?: string;
  /** false: no legend entry (e.g. members of a family shown by a colour bar). Default true. */
  readonly legend?: boolean;
}

/** A continuous colour scale drawn as a bar on the right instead of one legend entry per series. */
export interface ColorBar {
  readonly title: string;
  readonly min: number;
  readonly max: number;
  /** Colour at t = (value − min) / (max − min) in [0, 1]. */
  readonly color: (t: number) => string;
}

/** A shaded horizontal band (`axis: 'y'`, from ≤ y ≤ to), e.g. a tolerance window. */
export interface Band {
  readonly axis: 'y';
  readonly from: number;
  readonly to: number;
  readonly label?: string;
}

/** A dashed horizontal (`axis: 'y'`) or vertical (`axis: 'x'`) reference line, e.g. the dense baseline accuracy. */
export interface RefLine {
  readonly axis: 'x' | 'y';
  readonly value: number;
  readonly label?: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: ReadonlyArray<LineSeries>;
  /** Fixed y domain (data outside is clipped). Default: nice range around the data. */
  readonly yRange?: readonly [number, number];
  /** Fixed x domain (data outside is clipped). Default: nice range around the data. */
  readonly xRange?: readonly [number, number];
  /** Logarithmic x axis; points with x ≤ 0 are skipped. */
  readonly logX?: boolean;
  /** Draw point markers. Default: per series, only when it has ≤ 100 finite points. */
  readonly markers?: boolean;
  readonly refLines?: ReadonlyArray<RefLine>;
  readonly bands?: ReadonlyArray<Band>;
  readonly colorBar?: ColorBar;
  readonly width?: number;
  readonly height?: number;
  /** Prefix for element ids (clip paths); must be unique within one HTML page. Default: auto. */
  readonly id?: string;
}

export interface BarSeries {
  readonly name: string;
  /** One value per category (same order); NaN / missing values are skipped. */
  readonly values: ReadonlyArray<number>;
  /** Optional error bar per category: a whisker from lo[c] to hi[c] (e.g. mean ± std); NaN skips it. */
  readonly lo?: ReadonlyArray<number>;
  readonly hi?: ReadonlyArray<number>;
  readonly color?: string;
}

export interface BarChartOptions {
  readonly title: string;
  readonly categories: ReadonlyArray<string>;
  readonly series: ReadonlyArray<BarSeries>;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly yRange?: readonly [number, number];
  /** Default: grows with the number of categories (≥ 640). */
  readonly width?: number;
  readonly height?: number;
  /** Print values above bars when they fit. Default true. */
  readonly valueLabels?: boolean;
  readonly id?: string;
}

const MAX_AUTO_MARKERS = 100;
const COLOR_BAR_WIDTH = 64;

/** A vertical colour bar (min at the bottom) with its title above and min/mid/max tick labels. */
function colorBar(cb: ColorBar, x: number, y0: number, y1: number): string {
  const steps = 32;
  const h = (y1 - y0 - 16) / steps;
  const top = y0 + 16;
  const cells: string[] = [];
  for (let i = 0; i < steps; i++) {
    cells.push(el('rect', { x, y: top + (steps - 1 - i) * h, width: 12, height: h + 0.5, fill: cb.color((i + 0.5) / steps) }));
  }
  const span = cb.max - cb.min;
  const ticks = span > 0 ? niceTicks(cb.min, cb.max, 4, false).ticks : [cb.min];
  const labels = ticks.map((t) => {
    const y = top + (steps * h) * (span > 0 ? 1 - (t - cb.min) / span : 0.5);
    return text(formatValue(t), { class: 'tick-label', x: x + 16, y, dy: '0.32em', 'font-size': TICK_FONT, fill: MUTED });
  });
  return el(
    'g',
    { class: 'color-bar', 'data-min': String(cb.min), 'data-max': String(cb.max) },
    text(cb.title, { class: 'color-bar-title', x: x + 6, y: y0 + 4, 'text-anchor': 'middle', 'font-size': TICK_FONT, fill: MUTED }),
    cells,
    labels,
  );
}

// ---------------------------------------------------------------------------------------------
// Line chart
// ---------------------------------------------------------------------------------------------

/** Renders a multi-series line chart as a standalone SVG string. */
export function lineChart(opts: LineChartOptions): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 400;
  const logX = opts.logX === true;
  const series = opts.series ?? [];
  const id = chartId(opts.id, 'line', opts);

  const usable = (p: Point): boolean =>
    Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logX || p[0] > 0);

  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  let nFinite = 0;
  for (const s of series) {
    for (const p of s.points ?? []) {
      if (!usable(p)) continue;
      nFinite += 1;
      xMin = Math.min(xMin, p[0]);
      xMax = Math.max(xMax, p[0]);
      yMin = Math.min(yMin, p[1]);
      yMax = Math.max(yMax, p[1]);
    }
  }
  for (const r of opts.refLines ?? []) {
    if (!Number.isFinite(r.value) || nFinite === 0) continue;
    if (r.axis === 'y') {
      yMin = Math.min(yMin, r.value);
      yMax = Math.max(yMax, r.value);
    }
  }
  for (const b of opts.bands ?? []) {
    if (nFinite === 0) continue;
    for (const v of [b.from, b.to]) if (Number.isFinite(v)) [yMin, yMax] = [Math.min(yMin, v), Math.max(yMax, v)];
  }
  const empty = nFinite === 0;

  const yTarget = Math.max(3, Math.round((height - 100) / 55));
  const yTicks: Ticks = validRange(opts.yRange, false)
    ? { ...niceTicks(opts.yRange[0], opts.yRange[1], yTarget, false), domain: [opts.yRange[0], opts.yRange[1]] }
    : empty
      ? niceTicks(0, 1, yTarget)
      : niceTicks(yMin, yMax, yTarget);

  // Layout.
  const styles: LegendEntry[] = series.map((s, i) => ({
    name: s.name,
    color: s.color ?? seriesColor(i),
    dash: s.color ? undefined : seriesDash(i),
    swatch: 'line',
  }));
  const entries = styles.filter((_, i) => series[i]?.legend !== false);
  const legW = legendWidth(entries);
  const colorBarW = opts.colorBar ? COLOR_BAR_WIDTH : 0;
  const legendRight = !opts.colorBar && legW > 0 && legW <= width * RIGHT_LEGEND_MAX_SHARE;
  const marginTop = opts.title ? 44 : 16;
  const marginLeft = Math.ceil((opts.yLabel ? 30 : 8) + 10 + maxTickLabelWidth(yTicks));
  const endLabelW = Math.max(0, ...series.map((s) => (s.label ? estimateTextWidth(s.label, 11) + 8 : 0)));
  const marginRight = (legendRight ? legW + 24 : 20) + colorBarW + Math.min(endLabelW, width * 0.2);
  const axisBlock = opts.xLabel ? 50 : 30;
  const bottomLegend = legendRight ? undefined : flowLegend(entries, marginLeft, 0, width - marginLeft - 20);
  const marginBottom = axisBlock + 6 + (bottomLegend && bottomLegend.height > 0 ? bottomLegend.height + 6 : 0);
  const frame: Frame = {
    width,
    height,
    x0: marginLeft,
    x1: Math.max(marginLeft + 40, width - marginRight),
    y0: marginTop,
    y1: Math.max(marginTop + 40, height - marginBottom),
  };
  const xTarget = Math.max(3, Math.round((frame.x1 - frame.x0) / 80));

  let xTicks: Ticks;
  if (logX) {
    if (validRange(opts.xRange, true)) {
      const t = logTicks(opts.xRange[0], opts.xRange[1]);
      const [a, b] = opts.xRange;
      xTicks = { ...t, domain: [a, b], ticks: t.ticks.filter((v) => v >= a && v <= b) };
    } else xTicks = empty ? logTicks(1, 10) : logTicks(xMin, xMax);
  } else if (validRange(opts.xRange, false)) {
    xTicks = { ...niceTicks(opts.xRange[0], opts.xRange[1], xTarget, false), domain: [opts.xRange[0], opts.xRange[1]] };
  } else {
    xTicks = empty ? niceTicks(0, 1, xTarget) : niceTicks(xMin, xMax, xTarget);
  }

  const xs = logX ? logScale(xTicks.domain, [frame.x0, frame.x1]) : linearScale(xTicks.domain, [frame.x0, frame.x1]);
  const ys = linearScale(yTicks.domain, [frame.y1, frame.y0]);

  const [yGrid, yAx] = yAxis(frame, ys, yTicks);
  const [xGrid, xAx] = xAxis(frame, xs, xTicks);

  const clipId = `${id}-clip`;
  const pad = 5; // let markers on the frame edge show in full
  const defs = el(
    'defs',
    undefined,
    el(
      'clipPath',
      { id: clipId },
      el('rect', { x: frame.x0 - pad, y: frame.y0 - pad, width: frame.x1 - frame.x0 + 2 * pad, height: frame.y1 - frame.y0 + 2 * pad }),
    ),
  );

  const seriesMarkup = series.map((s, i) => {
    const color = styles[i]?.color ?? seriesColor(i);
    const dash = styles[i]?.dash;
    const pts = s.points ?? [];
    const finite = pts.filter(usable);
    const showMarkers = opts.markers ?? finite.length <= MAX_AUTO_MARKERS;
    let d = '';
    let penDown = false;
    for (const p of pts) {
      if (!usable(p)) {
        penDown = false;
        continue;
      }
      d += `${penDown ? 'L' : 'M'}${fmtCoord(xs.map(p[0]))} ${fmtCoord(ys.map(p[1]))}`;
      penDown = true;
    }
    const children: string[] = [];
    if (d) {
      children.push(
        el('path', {
          class: 'line',
          d,
          fill: 'none',
          stroke: color,
          'stroke-width': s.strokeWidth ?? 2,
          'stroke-linejoin': 'round',
          'stroke-linecap': 'round',
          'stroke-dasharray': dash,
        }),
      );
    }
    if (showMarkers) {
      for (const p of finite) {
        children.push(
          el(
            'circle',
            {
              class: 'point',
              cx: xs.map(p[0]),
              cy: ys.map(p[1]),
              r: s.markerRadius ?? 3.2,
              fill: color,
              stroke: '#ffffff',
              'stroke-width': 1,
              'data-x': String(p[0]),
              'data-y': String(p[1]),
            },
            el('title', undefined, escapeXml(`${s.name}: ${formatValue(p[0])}, ${formatValue(p[1])}`)),
          ),
        );
      }
    }
    const last = finite[finite.length - 1];
    const endLabel =
      s.label && last
        ? text(s.label, { class: 'series-label', x: xs.map(last[0]) + 6, y: ys.map(last[1]), dy: '0.35em', 'font-size': 11, 'font-weight': 600, fill: color })
        : '';
    return [
      el(
        'g',
        { class: 'series', 'data-series': s.name, 'data-points': finite.length, 'clip-path': `url(#${clipId})` },
        children,
      ),
      endLabel,
    ].join('');
  });

  const bandMarkup = (empty ? [] : (opts.bands ?? [])).filter((b) => Number.isFinite(b.from) && Number.isFinite(b.to)).map((b) => {
    const ya = Math.max(frame.y0, Math.min(frame.y1, ys.map(Math.max(b.from, b.to))));
    const yb = Math.max(frame.y0, Math.min(frame.y1, ys.map(Math.min(b.from, b.to))));
    return el(
      'g',
      { class: 'band', 'data-from': String(b.from), 'data-to': String(b.to) },
      el('rect', { x: frame.x0, y: ya, width: frame.x1 - frame.x0, height: yb - ya, fill: '#0072B2', 'fill-opacity': 0.1 }),
      b.label ? text(b.label, { x: frame.x0 + 6, y: yb - 5, 'font-size': 11, fill: MUTED }) : '',
    );
  });

  const refs = (empty ? [] : (opts.refLines ?? [])).filter((r) => Number.isFinite(r.value)).map((r) => {
    if (r.axis === 'y') {
      const y = ys.map(r.value);
      if (y < frame.y0 - 0.5 || y > frame.y1 + 0.5) return '';
      return el(
        'g',
        { class: 'ref-line', 'data-axis': 'y', 'data-value': String(r.value) },
        el('line', { x1: frame.x0, y1: y, x2: frame.x1, y2: y, stroke: '#777777', 'stroke-width': 1.2, 'stroke-dasharray': '5 4' }),
        r.label ? text(r.label, { x: frame.x1 - 4, y: y - 5, 'text-anchor': 'end', 'font-size': 11, fill: MUTED }) : '',
      );
    }
    if (logX && r.value <= 0) return '';
    const x = xs.map(r.value);
    if (x < frame.x0 - 0.5 || x > frame.x1 + 0.5) return '';
    return el(
      'g',
      { class: 'ref-line', 'data-axis': 'x', 'data-value': String(r.value) },
      el('line', { x1: x, y1: frame.y0, x2: x, y2: frame.y1, stroke: '#777777', 'stroke-width': 1.2, 'stroke-dasharray': '5 4' }),
      r.label ? text(r.label, { x: x + 4, y: frame.y0 + 12, 'font-size': 11, fill: MUTED }) : '',
    );
  });

  const body = [
    defs,
    yGrid,
    xGrid,
    el('rect', {
      class: 'plot-area',
      x: frame.x0,
      y: frame.y0,
      width: frame.x1 - frame.x0,
      height: frame.y1 - frame.y0,
      fill: 'none',
      stroke: '#cccccc',
      'stroke-width': 1,
    }),
    yAx,
    xAx,
    ...axisLabels(frame, opts.xLabel, opts.yLabel, frame.y1 + 42),
    ...bandMarkup,
    ...refs,
    el('g', { class: 'series-list' }, seriesMarkup),
    legend(
      entries,
      legendRight ? stackLegend(entries, frame.x1 + 20, frame.y0) : flowLegend(entries, frame.x0, frame.y1 + axisBlock + 4, width - frame.x0 - 20),
    ),
    opts.colorBar ? colorBar(opts.colorBar, width - COLOR_BAR_WIDTH + 8, frame.y0, frame.y1) : '',
    titleText(opts.title, width),
    empty ? noData(frame) : '',
  ];
  return svgRoot('line-chart', opts.title, width, height, body);
}

// ---------------------------------------------------------------------------------------------
// Bar chart
// ---------------------------------------------------------------------------------------------

const CATEGORY_MAX_CHARS = 22;

/** Renders a grouped bar chart (one group per category, one bar per series) as an SVG string. */
export function barChart(opts: BarChartOptions): string {
  const categories = opts.categories ?? [];
  const series = opts.series ?? [];
  const nCat = categories.length;
  const nSer = Math.max(1, series.length);
  const id = chartId(opts.id, 'bar', opts);

  let vMin = Infinity;
  let vMax = -Infinity;
  let nFinite = 0;
  for (const s of series) {
    for (let c = 0; c < nCat; c++) {
      const v = s.values?.[c];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      nFinite += 1;
      vMin = Math.min(vMin, v);
      vMax = Math.max(vMax, v);
      for (const e of [s.lo?.[c], s.hi?.[c]]) {
        if (typeof e !== 'number' || !Number.isFinite(e)) continue;
        vMin = Math.min(vMin, e);
        vMax = Math.max(vMax, e);
      }
    }
  }
  const empty = nFinite === 0;

  const height = opts.height ?? 400;
  const yTarget = Math.max(3, Math.round((height - 120) / 55));
  const yTicks: Ticks = validRange(opts.yRange, false)
    ? { ...niceTicks(opts.yRange[0], opts.yRange[1], yTarget, false), domain: [opts.yRange[0], opts.yRange[1]] }
    : empty
      ? niceTicks(0, 1, yTarget)
      : niceTicks(Math.min(0, vMin), Math.max(0, vMax), yTarget);

  const entries: LegendEntry[] = series.map((s, i) => ({ name: s.name, color: s.color ?? seriesColor(i), swatch: 'box' }));
  const legW = legendWidth(entries);
  const marginLeft = Math.ceil((opts.yLabel ? 30 : 8) + 10 + maxTickLabelWidth(yTicks));
  const marginRight = legW > 0 ? legW + 24 : 20;
  const minBand = Math.max(22, nSer * 9 + 8);
  const width = opts.width ?? Math.max(640, Math.ceil(marginLeft + marginRight + nCat * minBand));
  const plotW = Math.max(40, width - marginLeft - marginRight);
  const band = nCat > 0 ? plotW / nCat : plotW;

  const labels = categories.map((c) => truncate(String(c), CATEGORY_MAX_CHARS));
  const maxLabelW = labels.length ? Math.max(...labels.map((l) => estimateTextWidth(l, TICK_FONT))) : 0;
  const rotate = maxLabelW > band - 4;
  const labelBlock = rotate ? Math.min(maxLabelW, 160) * Math.SQRT1_2 + 14 : 18;
  const marginTop = opts.title ? 44 : 16;
  const marginBottom = Math.ceil(labelBlock + (opts.xLabel ? 38 : 16));
  const frame: Frame = {
    width,
    height,
    x0: marginLeft,
    x1: marginLeft + plotW,
    y0: marginTop,
    y1: Math.max(marginTop + 40, height - marginBottom),
  };
  const ys = linearScale(yTicks.domain, [frame.y1, frame.y0]);
  const [yGrid, yAx] = yAxis(frame, ys, yTicks);

  // Category axis.
  const xParts: string[] = [];
  let lastRight = -Infinity;
  categories.forEach((cat, c) => {
    const cx = frame.x0 + band * (c + 0.5);
    xParts.push(el('line', { x1: cx, y1: frame.y1, x2: cx, y2: frame.y1 + 4, stroke: AXIS, 'stroke-width': 1 }));
    const label = labels[c] ?? '';
    const attrs = rotate
      ? {
          class: 'tick-label category-label',
          x: cx,
          y: frame.y1 + 12,
          'text-anchor': 'end',
          transform: `rotate(-45 ${fmtCoord(cx)} ${fmtCoord(frame.y1 + 12)})`,
          'font-size': TICK_FONT,
          fill: MUTED,
        }
      : { class: 'tick-label category-label', x: cx, y: frame.y1 + 17, 'text-anchor': 'middle', 'font-size': TICK_FONT, fill: MUTED };
    // When rotated, labels are ~TICK_FONT apart vertically-projected; thin them if bands are tiny.
    if (rotate) {
      if (cx < lastRight + TICK_FONT * 1.1) return;
      lastRight = cx;
    }
    xParts.push(
      el('text', attrs, label !== String(cat) ? el('title', undefined, escapeXml(cat)) : '', escapeXml(label)),
    );
  });
  xParts.push(el('line', { x1: frame.x0, y1: frame.y1, x2: frame.x1, y2: frame.y1, stroke: AXIS, 'stroke-width': 1 }));
  const xAx = el('g', { class: 'axis x-axis' }, xParts);

  const groupW = band * 0.8;
  const barW = groupW / nSer;
  const zeroY = Math.min(frame.y1, Math.max(frame.y0, ys.map(Math.max(yTicks.domain[0], Math.min(0, yTicks.domain[1])))));
  // Value labels are drawn for all bars or for none (a partial set reads as a pattern).
  let showValues = opts.valueLabels !== false && !empty;
  if (showValues) {
    for (const s of series) {
      for (let c = 0; c < nCat && showValues; c++) {
        const v = s.values?.[c];
        if (typeof v === 'number' && Number.isFinite(v) && estimateTextWidth(formatValue(v), 10) > barW + 2) showValues = false;
      }
    }
  }
  const clipId = `${id}-clip`;
  const defs = el(
    'defs',
    undefined,
    el('clipPath', { id: clipId }, el('rect', { x: frame.x0, y: frame.y0 - 14, width: frame.x1 - frame.x0, height: frame.y1 - frame.y0 + 14 })),
  );

  const seriesMarkup = series.map((s, si) => {
    const color = entries[si]?.color ?? seriesColor(si);
    const bars: string[] = [];
    let count = 0;
    for (let c = 0; c < nCat; c++) {
      const v = s.values?.[c];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      count += 1;
      const x = frame.x0 + band * c + (band - groupW) / 2 + barW * si;
      const yv = Math.min(frame.y1, Math.max(frame.y0, ys.map(v)));
      const top = Math.min(yv, zeroY);
      const h = Math.abs(zeroY - yv);
      const cat = String(categories[c]);
      bars.push(
        el(
          'rect',
          {
            class: 'bar',
            x: x + 0.5,
            y: top,
            width: Math.max(0.5, barW - 1),
            height: h,
            fill: color,
            'data-category': cat,
            'data-value': String(v),
          },
          el('title', undefined, escapeXml(`${cat} — ${s.name}: ${formatValue(v)}`)),
        ),
      );
      const lo = s.lo?.[c];
      const hi = s.hi?.[c];
      let whiskerTop = top;
      if (typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(lo) && Number.isFinite(hi)) {
        const cx = x + barW / 2;
        const [ya, yb] = [ys.map(Math.max(lo, hi)), ys.map(Math.min(lo, hi))];
        const cap = Math.min(6, barW * 0.3);
        whiskerTop = Math.min(top, ya);
        bars.push(
          el(
            'g',
            { class: 'error-bar', 'data-category': cat, 'data-lo': String(lo), 'data-hi': String(hi) },
            el('line', { x1: cx, y1: ya, x2: cx, y2: yb, stroke: AXIS, 'stroke-width': 1.3 }),
            el('line', { x1: cx - cap, y1: ya, x2: cx + cap, y2: ya, stroke: AXIS, 'stroke-width': 1.3 }),
            el('line', { x1: cx - cap, y1: yb, x2: cx + cap, y2: yb, stroke: AXIS, 'stroke-width': 1.3 }),
          ),
        );
      }
      if (showValues) {
        bars.push(
          text(formatValue(v), {
            class: 'bar-value',
            x: x + barW / 2,
            y: v >= 0 ? whiskerTop - 4 : top + h + 11,
            'text-anchor': 'middle',
            'font-size': 10,
            fill: MUTED,
          }),
        );
      }
    }
    return el('g', { class: 'series', 'data-series': s.name, 'data-points': count, 'clip-path': `url(#${clipId})` }, bars);
  });

  const zeroLine =
    yTicks.domain[0] < 0 && yTicks.domain[1] > 0
      ? el('line', { class: 'zero-line', x1: frame.x0, y1: zeroY, x2: frame.x1, y2: zeroY, stroke: AXIS, 'stroke-width': 1 })
      : '';

  const body = [
    defs,
    yGrid,
    el('rect', {
      class: 'plot-area',
      x: frame.x0,
      y: frame.y0,
      width: frame.x1 - frame.x0,
      height: frame.y1 - frame.y0,
      fill: 'none',
      stroke: '#cccccc',
      'stroke-width': 1,
    }),
    yAx,
    xAx,
    zeroLine,
    ...axisLabels(frame, opts.xLabel, opts.yLabel, frame.y1 + labelBlock + 24),
    el('g', { class: 'series-list' }, seriesMarkup),
    legend(entries, stackLegend(entries, frame.x1 + 20, frame.y0)),
    titleText(opts.title, width),
    empty ? noData(frame) : '',
  ];
  return svgRoot('bar-chart', opts.title, width, height, body);
}
