import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { forestPlot, formatInterval } from '../../src/report/charts.js';
import { attr, num, tags, plotArea, tickLabels, assertWellFormed } from './svg-inspect.js';

/** The `<g class="forest-row">` groups with their opening tag and inner markup. */
function rows(svg: string): { open: string; body: string }[] {
  return [...svg.matchAll(/(<g class="forest-row"[^>]*>)(.*?)<\/g>/gs)].map((m) => ({ open: m[1] as string, body: m[2] as string }));
}

describe('forestPlot', () => {
  const data = [
    { label: '(a) − (b) at 2×', group: 'after finetune', mean: 1.5, lo: 0.5, hi: 2.5, n: 5 },
    { label: '(a) − (c) at 2×', group: 'after finetune', mean: -0.5, lo: -3, hi: 2, n: 5 },
    { label: '(a) − (b) at 3×', group: 'right after pruning', mean: -2, lo: -4, hi: -1, n: 5 },
  ];
  const svg = forestPlot(data, { title: 'Paired differences', xLabel: 'accuracy difference (pp)' });

  test('is well-formed SVG with title, axis label and one row per input row', () => {
    assertWellFormed(svg);
    assert.match(svg, /^<svg [^>]*class="chart forest-plot"/);
    assert.match(svg, /<title>Paired differences<\/title>/);
    assert.match(svg, /class="axis-label x-label"[^>]*>accuracy difference \(pp\)</);
    const rs = rows(svg);
    assert.equal(rs.length, 3);
    assert.deepEqual(rs.map((r) => attr(r.open, 'data-label')), data.map((d) => d.label.replace('>', '&gt;')));
    assert.deepEqual(rs.map((r) => Number(attr(r.open, 'data-mean'))), [1.5, -0.5, -2]);
    assert.deepEqual(rs.map((r) => attr(r.open, 'data-n')), ['5', '5', '5']);
  });

  test('dots and whiskers sit on one linear scale whose 0 is the zero line', () => {
    const zero = tags(svg, 'line', 'zero-line')[0];
    assert.ok(zero, 'zero line drawn');
    const zx = num(zero, 'x1');
    const area = plotArea(svg);
    assert.ok(zx > area.x && zx < area.x + area.w);
    const rs = rows(svg);
    const dot = (i: number) => num(tags(rs[i]!.body, 'circle', 'estimate')[0]!, 'cx');
    const whisker = (i: number) => tags(rs[i]!.body, 'line', 'whisker')[0]!;
    const k = (dot(0) - zx) / 1.5; // px per percentage point
    assert.ok(k > 0);
    data.forEach((d, i) => {
      assert.ok(Math.abs(dot(i) - (zx + k * d.mean)) < 0.02, `row ${i} dot`);
      assert.ok(Math.abs(num(whisker(i), 'x1') - (zx + k * d.lo)) < 0.02, `row ${i} lo`);
      assert.ok(Math.abs(num(whisker(i), 'x2') - (zx + k * d.hi)) < 0.02, `row ${i} hi`);
    });
    // rows go top to bottom, each on its own line
    const ys = rs.map((r) => num(tags(r.body, 'circle', 'estimate')[0]!, 'cy'));
    assert.ok(ys[0]! < ys[1]! && ys[1]! < ys[2]!);
  });

  test('colour says which side of 0 the interval lies on', () => {
    const fill = rows(svg).map((r) => attr(tags(r.body, 'circle', 'estimate')[0]!, 'fill'));
    assert.equal(new Set(fill).size, 3, `above / straddling / below differ: ${fill.join(', ')}`);
  });

  test('group headings once per group, estimates printed with 2 decimals', () => {
    const groups = [...svg.matchAll(/class="group-label"[^>]*>([^<]*)</g)].map((m) => m[1]);
    assert.deepEqual(groups, ['after finetune', 'right after pruning']);
    assert.ok(svg.includes('+1.50 [0.50, 2.50]  n=5'));
    assert.ok(svg.includes('−2.00 [−4.00, −1.00]'));
  });

  test('0 stays on the axis even when every interval is positive', () => {
    const s = forestPlot([{ label: 'x', mean: 5, lo: 4, hi: 6 }], { title: 't', xLabel: 'pp' });
    assert.ok(tickLabels(s, 'x-axis').includes('0'));
    assert.equal(tags(s, 'line', 'zero-line').length, 1);
    const off = forestPlot([{ label: 'x', mean: 5, lo: 4, hi: 6 }], { title: 't', xLabel: 'pp', zeroLine: false });
    assert.equal(tags(off, 'line', 'zero-line').length, 0);
    assert.ok(!tickLabels(off, 'x-axis').includes('0'));
  });

  test('non-finite values: no dot for NaN mean, no whisker for NaN interval, "no data" when nothing is finite', () => {
    const s = forestPlot([{ label: 'nan', mean: NaN, lo: NaN, hi: NaN }, { label: 'dot only', mean: 1, lo: NaN, hi: Infinity }], { title: 't', xLabel: 'pp' });
    assertWellFormed(s);
    const rs = rows(s);
    assert.equal(tags(rs[0]!.body, 'circle').length, 0);
    assert.equal(tags(rs[1]!.body, 'circle', 'estimate').length, 1);
    assert.equal(tags(rs[1]!.body, 'line', 'whisker').length, 0);
    assert.ok(!s.includes('class="no-data"'));
    assert.ok(forestPlot([], { title: 't', xLabel: 'pp' }).includes('class="no-data"'));
  });

  test('formatInterval', () => {
    assert.equal(formatInterval(1.234, -0.4, 2.857), '+1.23 [−0.40, 2.86]');
    assert.equal(formatInterval(-0.001, -1, 1), '0.00 [−1.00, 1.00]');
    assert.equal(formatInterval(NaN, 0, 1), 'n/a');
    assert.equal(formatInterval(2, NaN, 1), '+2.00');
  });
});
