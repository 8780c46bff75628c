import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lineChart, barChart, type Point } from '../../src/report/charts.js';
import { niceTicks, logTicks, formatTicks, escapeXml } from '../../src/report/svg.js';

import { seriesGroups, attr, num, tags, plotArea, tickLabels, assertWellFormed } from './svg-inspect.js';

describe('lineChart', () => {
  const svg = lineChart({
    title: 'Accuracy vs speed-up',
    xLabel: 'MACs speed-up',
    yLabel: 'Top-1 accuracy (%)',
    series: [
      { name: 'meta', points: [[1, 93], [2, 92.5], [3, 91], [4, 89]] },
      { name: 'l1', points: [[1, 93], [2, 91.8], [3, 89.9]] },
    ],
  });

  test('is well-formed standalone SVG with title', () => {
    assertWellFormed(svg);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<title>Accuracy vs speed-up<\/title>/);
    assert.match(svg, /class="chart-title"[^>]*>Accuracy vs speed-up<\/text>/);
  });

  test('contains one group per series with the right number of point markers', () => {
    const groups = seriesGroups(svg);
    assert.deepEqual(
      groups.map((g) => g.name),
      ['meta', 'l1'],
    );
    assert.equal(tags(groups[0]!.body, 'circle', 'point').length, 4);
    assert.equal(tags(groups[1]!.body, 'circle', 'point').length, 3);
    assert.equal(tags(groups[0]!.body, 'path', 'line').length, 1);
    assert.match(groups[0]!.attrs, /data-points="4"/);
  });

  test('legend lists every series', () => {
    assert.match(svg, /<g class="legend-item" data-series="meta">.*?>meta<\/text>/s);
    assert.match(svg, /<g class="legend-item" data-series="l1">.*?>l1<\/text>/s);
  });

  test('axis labels and nice tick labels are present', () => {
    assert.match(svg, /class="axis-label x-label"[^>]*>MACs speed-up<\/text>/);
    assert.match(svg, /class="axis-label y-label"[^>]*>Top-1 accuracy \(%\)<\/text>/);
    const xt = tickLabels(svg, 'x-axis');
    for (const t of [1, 2, 3, 4]) assert.ok(xt.map(Number).includes(t), `x tick ${t} in ${xt.join(',')}`);
    const decimals = new Set(xt.map((t) => (t.split('.')[1] ?? '').length));
    assert.equal(decimals.size, 1, 'x tick labels share one format');
    const yt = tickLabels(svg, 'y-axis').map(Number);
    assert.ok(yt.length >= 3, 'several y ticks');
    assert.ok(yt.every((v) => Number.isFinite(v)));
    assert.ok(Math.min(...yt) <= 89 && Math.max(...yt) >= 93, 'y ticks cover the data');
  });

  test('point coordinates map into the plot area monotonically', () => {
    const pa = plotArea(svg);
    const pts = tags(seriesGroups(svg)[0]!.body, 'circle', 'point').map((c) => ({
      x: Number(attr(c, 'data-x')),
      y: Number(attr(c, 'data-y')),
      cx: num(c, 'cx'),
      cy: num(c, 'cy'),
    }));
    for (const p of pts) {
      assert.ok(p.cx >= pa.x - 0.01 && p.cx <= pa.x + pa.w + 0.01, 'cx within plot');
      assert.ok(p.cy >= pa.y - 0.01 && p.cy <= pa.y + pa.h + 0.01, 'cy within plot');
    }
    const top = pts.reduce((a, b) => (b.cy < a.cy ? b : a));
    assert.equal(top.y, 93, 'max y is the highest point');
    const sorted = [...pts].sort((a, b) => a.x - b.x);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.cx > sorted[i - 1]!.cx, 'x increases to the right');
  });

  test('with fixed ranges, extreme points sit exactly on the plot edges', () => {
    const s = lineChart({
      title: 't',
      xLabel: 'epoch',
      yLabel: 'acc',
      xRange: [0, 10],
      yRange: [0, 1],
      series: [{ name: 'acc', points: [[0, 0], [5, 0.5], [10, 1]] }],
    });
    const pa = plotArea(s);
    const c = tags(s, 'circle', 'point');
    assert.equal(c.length, 3);
    const [p0, p1, p2] = c as [string, string, string];
    assert.ok(Math.abs(num(p2, 'cy') - pa.y) < 0.02, 'y=1 at top');
    assert.ok(Math.abs(num(p2, 'cx') - (pa.x + pa.w)) < 0.02, 'x=10 at right');
    assert.ok(Math.abs(num(p0, 'cy') - (pa.y + pa.h)) < 0.02, 'y=0 at bottom');
    assert.ok(Math.abs(num(p0, 'cx') - pa.x) < 0.02, 'x=0 at left');
    assert.ok(Math.abs(num(p1, 'cx') - (pa.x + pa.w / 2)) < 0.02, 'midpoint');
    assert.ok(Math.abs(num(p1, 'cy') - (pa.y + pa.h / 2)) < 0.02, 'midpoint');
    const yt = tickLabels(s, 'y-axis');
    assert.deepEqual(yt, ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
  });

  test('NaN / infinite points are skipped and break the line', () => {
    const s = lineChart({
      title: 'loss',
      xLabel: 'step',
      yLabel: 'loss',
      series: [{ name: 'loss', points: [[0, 2], [1, 1.5], [2, NaN], [3, 1], [4, Infinity], [NaN, 3], [5, 0.8]] }],
    });
    assertWellFormed(s);
    const g = seriesGroups(s)[0]!;
    assert.equal(tags(g.body, 'circle', 'point').length, 4);
    const d = attr(tags(g.body, 'path', 'line')[0]!, 'd')!;
    assert.equal((d.match(/M/g) ?? []).length, 3, 'three segments');
    assert.ok(!/NaN|Infinity/.test(s.replace(/data-[xy]="[^"]*"/g, '')), 'no NaN coordinates');
    assert.ok(!s.includes('no data'));
  });

  test('all-NaN and empty data render "no data" without crashing', () => {
    const a = lineChart({ title: 'x', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[NaN, NaN], [1, NaN]] }] });
    assertWellFormed(a);
    assert.match(a, /class="no-data"[^>]*>no data<\/text>/);
    assert.equal(tags(a, 'circle', 'point').length, 0);
    assert.equal(seriesGroups(a).length, 1);
    const b = lineChart({ title: 'x', xLabel: 'x', yLabel: 'y', series: [] });
    assertWellFormed(b);
    assert.match(b, /no data/);
    const c = lineChart({ title: 'x', xLabel: 'x', yLabel: 'y', series: [{ name: 'single', points: [[3, 3]] }] });
    assertWellFormed(c);
    assert.equal(tags(c, 'circle', 'point').length, 1);
    assert.ok(!/NaN/.test(c));
  });

  test('log x axis: equal ratios are equally spaced; x<=0 skipped', () => {
    const s = lineChart({
      title: 'log',
      xLabel: 'speed-up',
      yLabel: 'acc',
      logX: true,
      series: [{ name: 's', points: [[0, 5], [1, 1], [10, 2], [100, 3]] }],
    });
    const c = tags(s, 'circle', 'point').map((t) => num(t, 'cx'));
    assert.equal(c.length, 3);
    assert.ok(Math.abs(c[1]! - c[0]! - (c[2]! - c[1]!)) < 0.05);
    const xt = tickLabels(s, 'x-axis');
    for (const t of ['1', '10', '100']) assert.ok(xt.includes(t), `log tick ${t} in ${xt.join(',')}`);
    // Narrow range (typical speed-ups) still gets readable ticks.
    const n = lineChart({ title: 'n', xLabel: 'x', yLabel: 'y', logX: true, series: [{ name: 's', points: [[1, 1], [1.5, 2], [3.2, 3]] }] });
    const nt = tickLabels(n, 'x-axis');
    assert.ok(nt.length >= 2, `ticks: ${nt.join(',')}`);
    assertWellFormed(n);
  });

  test('escapes all text', () => {
    const s = lineChart({
      title: 'A <b> & "c"',
      xLabel: "x's <axis>",
      yLabel: 'y & z',
      series: [{ name: '<script>alert(1)</script>', points: [[1, 1], [2, 2]] }],
    });
    assertWellFormed(s);
    assert.ok(!s.includes('<script>'));
    assert.ok(s.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(s.includes('A &lt;b&gt; &amp; &quot;c&quot;'));
    assert.ok(s.includes('x&#39;s &lt;axis&gt;'));
  });

  test('distinct colours per series and unique clip ids', () => {
    const s = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: ['a', 'b', 'c', 'd'].map((n, i) => ({ name: n, points: [[0, i], [1, i + 1]] as [number, number][] })),
    });
    const strokes = seriesGroups(s).map((g) => attr(tags(g.body, 'path', 'line')[0]!, 'stroke'));
    assert.equal(new Set(strokes).size, 4);
    const s2 = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] });
    const id1 = /<clipPath id="([^"]+)"/.exec(s)![1];
    const id2 = /<clipPath id="([^"]+)"/.exec(s2)![1];
    assert.notEqual(id1, id2);
  });

  test('output is deterministic for the same input', () => {
    const o = { title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[0, 1], [1, 2]] as [number, number][] }] };
    assert.equal(lineChart(o), lineChart(o));
    const b = { title: 'b', categories: ['x'], series: [{ name: 's', values: [1] }] };
    assert.equal(barChart(b), barChart(b));
  });

  test('markers can be disabled and are auto-disabled for long series', () => {
    const pts: [number, number][] = Array.from({ length: 500 }, (_, i) => [i, Math.sin(i / 20)]);
    const s = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'long', points: pts }] });
    assert.equal(tags(s, 'circle', 'point').length, 0);
    assert.match(s, /data-points="500"/);
    const f = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', markers: true, series: [{ name: 'long', points: pts }] });
    assert.equal(tags(f, 'circle', 'point').length, 500);
  });

  test('reference lines are drawn', () => {
    const s = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [{ name: 'a', points: [[1, 90], [2, 91]] }],
      refLines: [{ axis: 'y', value: 93, label: 'dense' }],
    });
    assert.match(s, /class="ref-line" data-axis="y" data-value="93"/);
    assert.match(s, />dense<\/text>/);
    // The reference value is included in the auto y range.
    const yt = tickLabels(s, 'y-axis').map(Number);
    assert.ok(Math.max(...yt) >= 93);
  });
});

describe('barChart', () => {
  const svg = barChart({
    title: 'Channels per layer',
    categories: ['conv1', 'conv2', 'conv3'],
    series: [
      { name: 'before', values: [64, 128, 256] },
      { name: 'after', values: [32, NaN, 100] },
    ],
    yLabel: 'channels',
    xLabel: 'layer',
  });

  test('well-formed, one group per series, one bar per finite value', () => {
    assertWellFormed(svg);
    const g = seriesGroups(svg);
    assert.deepEqual(
      g.map((x) => x.name),
      ['before', 'after'],
    );
    assert.equal(tags(g[0]!.body, 'rect', 'bar').length, 3);
    assert.equal(tags(g[1]!.body, 'rect', 'bar').length, 2);
    assert.match(svg, /data-category="conv2" data-value="128"/);
  });

  test('category labels, axis labels, legend', () => {
    const xt = tickLabels(svg, 'x-axis');
    assert.deepEqual(xt, ['conv1', 'conv2', 'conv3']);
    assert.match(svg, />channels<\/text>/);
    assert.match(svg, />layer<\/text>/);
    assert.match(svg, /<g class="legend-item" data-series="after">/);
  });

  test('bar heights are proportional and start at zero', () => {
    const pa = plotArea(svg);
    const bars = tags(seriesGroups(svg)[0]!.body, 'rect', 'bar');
    const h = bars.map((b) => num(b, 'height'));
    const bottom = bars.map((b) => num(b, 'y') + num(b, 'height'));
    for (const b of bottom) assert.ok(Math.abs(b - (pa.y + pa.h)) < 0.02, 'bars stand on the x axis');
    assert.ok(Math.abs(h[1]! / h[0]! - 2) < 0.01);
    assert.ok(Math.abs(h[2]! / h[0]! - 4) < 0.01);
    // Groups are ordered left to right and series are side by side.
    const xs = bars.map((b) => num(b, 'x'));
    assert.ok(xs[0]! < xs[1]! && xs[1]! < xs[2]!);
    const after0 = tags(seriesGroups(svg)[1]!.body, 'rect', 'bar')[0]!;
    assert.ok(num(after0, 'x') > xs[0]! && num(after0, 'x') < xs[1]!);
  });

  test('fixed yRange puts the max value at the top', () => {
    const s = barChart({ title: 't', categories: ['a', 'b'], series: [{ name: 's', values: [50, 100] }], yRange: [0, 100] });
    const pa = plotArea(s);
    const b = tags(s, 'rect', 'bar')[1]!;
    assert.ok(Math.abs(num(b, 'y') - pa.y) < 0.02);
  });

  test('negative values hang below a zero line', () => {
    const s = barChart({ title: 'delta', categories: ['a', 'b'], series: [{ name: 'd', values: [-2, 3] }] });
    assertWellFormed(s);
    assert.match(s, /class="zero-line"/);
    const [neg, pos] = tags(s, 'rect', 'bar') as [string, string];
    assert.ok(Math.abs(num(neg, 'y') - (num(pos, 'y') + num(pos, 'height'))) < 0.02, 'both meet at zero');
  });

  test('empty / all-NaN data and many long categories do not crash', () => {
    const e = barChart({ title: 'e', categories: [], series: [] });
    assertWellFormed(e);
    assert.match(e, /no data/);
    const n = barChart({ title: 'n', categories: ['a'], series: [{ name: 's', values: [NaN] }] });
    assert.match(n, /no data/);
    assert.equal(tags(n, 'rect', 'bar').length, 0);
    const cats = Array.from({ length: 60 }, (_, i) => `backbone.layer${i}.conv_with_a_long_name`);
    const big = barChart({ title: 'big', categories: cats, series: [{ name: 'a', values: cats.map((_, i) => i) }, { name: 'b', values: cats.map((_, i) => i / 2) }] });
    assertWellFormed(big);
    assert.equal(tags(big, 'rect', 'bar').length, 120);
    assert.ok(num(tags(big, 'svg')[0]!, 'width') > 640, 'chart widens for many categories');
    assert.match(big, /rotate\(-45/);
  });
});

describe('svg helpers', () => {
  test('niceTicks produce round steps covering the data', () => {
    const t = niceTicks(0.13, 0.93, 6);
    assert.ok(t.domain[0] <= 0.13 && t.domain[1] >= 0.93);
    assert.deepEqual(t.ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
    const d = niceTicks(5, 5);
    assert.ok(d.ticks.length >= 2, 'degenerate range widened');
    const big = niceTicks(0, 1.25e8, 6);
    assert.deepEqual(formatTicks(big.ticks, big.step), ['0', '20M', '40M', '60M', '80M', '100M', '120M', '140M']);
    assert.deepEqual(formatTicks([0, 5000, 10000, 15000], 5000), ['0', '5k', '10k', '15k'], 'one unit per axis');
    assert.deepEqual(formatTicks([0, 0.5, 1, 1.5], 0.5), ['0.0', '0.5', '1.0', '1.5'], 'same decimals on an axis');
    assert.deepEqual(formatTicks([-1, 0, 1], 1), ['-1', '0', '1']);
    assert.deepEqual(formatTicks([0, 0.0001, 0.0002], 0.0001), ['0', '1e-4', '2e-4']);
  });

  test('logTicks', () => {
    assert.deepEqual(logTicks(1, 1000).ticks, [1, 10, 100, 1000]);
    assert.ok(logTicks(1, 4).ticks.includes(2));
  });

  test('escapeXml', () => {
    assert.equal(escapeXml(`<a href="x">'&'</a>\u0001`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('barChart error bars', () => {
  const svg = barChart({
    title: 'acc', categories: ['2×', '3×'], yLabel: '%',
    series: [
      { name: 'a', values: [80, 70], lo: [75, 60], hi: [85, 80] },
      { name: 'b', values: [60, NaN], lo: [58, NaN], hi: [62, NaN] },
    ],
  });

  test('one whisker per bar, spanning lo..hi on the bar scale that starts at 0', () => {
    assertWellFormed(svg);
    const bars = tags(svg, 'rect', 'bar');
    const errs = [...svg.matchAll(/<g class="error-bar"[^>]*>(.*?)<\/g>/gs)];
    assert.equal(bars.length, 3);
    assert.equal(errs.length, 3);
    assert.equal(tickLabels(svg, 'y-axis')[0], '0');
    const area = plotArea(svg);
    const yOf = (v: number) => area.y + area.h - (v / 100) * area.h; // domain is [0, 100] here
    assert.equal(tickLabels(svg, 'y-axis').at(-1), '100');
    const first = tags(errs[0]![1] as string, 'line')[0]!;
    assert.ok(Math.abs(num(first, 'y1') - yOf(85)) < 0.02 && Math.abs(num(first, 'y2') - yOf(75)) < 0.02);
    // the whisker stands on its bar's centre
    const bar = bars[0]!;
    assert.ok(Math.abs(num(first, 'x1') - (num(bar, 'x') - 0.5 + (num(bar, 'width') + 1) / 2)) < 0.02);
  });

  test('the y range covers the whiskers', () => {
    const s = barChart({ title: 't', categories: ['x'], series: [{ name: 'a', values: [10], lo: [5], hi: [140] }] });
    assert.ok(Number(tickLabels(s, 'y-axis').at(-1)) >= 140);
  });
});

describe('lineChart colour bar, end labels and bands', () => {
  const family = [0, 1, 2].map((e) => ({
    name: `epoch ${e}`, legend: false, color: `#00000${e}`, points: [[1, 90 - e], [2, 80 - e]] as Point[],
    ...(e === 1 ? { strokeWidth: 4, label: 'epoch 1 (chosen)' } : {}),
  }));
  const svg = lineChart({
    title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'original', color: '#000000', points: [[1, 95], [2, 70]] }, ...family],
    colorBar: { title: 'epoch', min: 0, max: 2, color: (t) => (t < 0.5 ? '#111111' : '#eeeeee') },
    bands: [{ axis: 'y', from: 85, to: 95, label: 'tolerance' }],
  });

  test('hidden series have no legend entry, the colour bar replaces them', () => {
    assertWellFormed(svg);
    const items = [...svg.matchAll(/<g class="legend-item" data-series="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(items, ['original']);
    assert.match(svg, /<g class="color-bar" data-min="0" data-max="2">/);
    const width = num(tags(svg, 'svg')[0]!, 'width');
    for (const r of tags(svg.slice(svg.indexOf('class="color-bar"')), 'rect')) assert.ok(num(r, 'x') + num(r, 'width') <= width);
  });

  test('the emphasised series is thicker and labelled at its last point', () => {
    const widths = seriesGroups(svg).map((g) => num(tags(g.body, 'path', 'line')[0]!, 'stroke-width'));
    assert.deepEqual(widths, [2, 2, 4, 2]);
    const label = tags(svg, 'text', 'series-label');
    assert.equal(label.length, 1);
    const lastPoint = tags(seriesGroups(svg)[2]!.body, 'circle', 'point').at(-1)!;
    assert.ok(num(label[0]!, 'x') > num(lastPoint, 'cx'));
  });

  test('a band is shaded between its bounds', () => {
    const band = /<g class="band" data-from="85" data-to="95">(<rect[^>]*>)/.exec(svg);
    assert.ok(band);
    assert.ok(num(band[1] as string, 'height') > 0);
  });
});
