// The Meta Pruning run report, checked on its SVG structure (the browser test renders it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRunReport } from '../../src/report/run-report.js';
import { fakeRun, FAKE_CHOSEN, FAKE_TARGETS, FAKE_SEEDS } from './fake-run.js';
import { attr, num, tags, tickLabels, seriesGroups } from './svg-inspect.js';

let dir = '';
let html = '';
/** The `<svg>` of the chart whose root title is `title`. */
const chart = (title: string): string => {
  const m = new RegExp(`<svg [^>]*aria-label="${title.replace(/[()×]/g, '.')}"[^>]*>.*?</svg>`, 's').exec(html);
  assert.ok(m, `chart "${title}" present`);
  return m[0];
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mp-run-report-'));
  fakeRun(dir);
  html = readFileSync(buildRunReport(dir, 'wasm'), 'utf8');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('comparison bars start at 0 and every bar has an error bar', () => {
  const svg = chart('Comparison of arms at each MACs target');
  assert.equal(tickLabels(svg, 'y-axis')[0], '0');
  const bars = tags(svg, 'rect', 'bar');
  assert.equal(bars.length, 3 * 2 * FAKE_TARGETS.length); // arms × (pruned, finetuned) × targets
  assert.equal((svg.match(/<g class="error-bar"/g) ?? []).length, bars.length);
  // the stored rows: (a) at 2× finetuned has mean over seeds of 0.8 - 0.04 + 0.003 s + 0.004 ((7 s + 2) % 5 - 2)
  const fin = [0, 1, 2].map((s) => 100 * (0.76 + 0.003 * s + 0.004 * (((s * 7 + 2) % 5) - 2)));
  const mean = fin.reduce((a, b) => a + b, 0) / fin.length;
  const bar = seriesGroups(svg).find((g) => g.name === '(a) metanet · finetuned')!;
  assert.ok(Math.abs(Number(attr(tags(bar.body, 'rect', 'bar')[0]!, 'data-value')) - mean) < 1e-9);
});

test('forest plot: one row per phase × target × baseline, paired by seed', () => {
  const svg = chart('Meta Pruning minus baseline, paired by seed');
  const rows = [...svg.matchAll(/<g class="forest-row"[^>]*>/g)].map((m) => m[0]);
  assert.equal(rows.length, 2 * FAKE_TARGETS.length * 2);
  assert.ok(rows.every((r) => attr(r, 'data-n') === String(FAKE_SEEDS)));
  // (a) − (b) at 2× after finetuning: per-seed differences 1 pt + 0.4 pt × (((7s+2)%5) − ((7s+5)%5))
  const d = [0, 1, 2].map((s) => 1 + 0.4 * ((((s * 7 + 2) % 5) - 2) - (((s * 7 + 5) % 5) - 2)));
  const first = rows[0]!;
  assert.equal(attr(first, 'data-label'), '(a) − (b) at 2×');
  assert.ok(Math.abs(Number(attr(first, 'data-mean')) - d.reduce((a, b) => a + b, 0) / 3) < 1e-9);
});

test('curve family: colour bar instead of a 21-entry legend, chosen epoch thick and labelled, x axis ends at the data', () => {
  const svg = chart('No-finetune pruning curves per metanetwork epoch');
  const legend = [...svg.matchAll(/<g class="legend-item" data-series="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(legend, ['original (no metanetwork)', `epoch ${FAKE_CHOSEN} (chosen)`]);
  assert.match(svg, /<g class="color-bar" data-min="1" data-max="39">/);
  const groups = seriesGroups(svg);
  assert.equal(groups.length, 21);
  const widthOf = (name: string) => num(tags(groups.find((g) => g.name === name)!.body, 'path', 'line')[0]!, 'stroke-width');
  const chosen = widthOf(`epoch ${FAKE_CHOSEN} (chosen)`);
  for (const g of groups) if (!g.name.includes('chosen')) assert.ok(widthOf(g.name) < chosen, g.name);
  assert.ok(svg.includes(`class="series-label"`) && svg.includes(`>epoch ${FAKE_CHOSEN}</text>`));
  assert.ok(Number(tickLabels(svg, 'x-axis').at(-1)) <= 4.1);
});

test('selection chart draws the tolerance band and the chosen point', () => {
  const svg = chart('Selection by meta-epoch');
  const band = /<g class="band" data-from="([^"]*)" data-to="([^"]*)"/.exec(svg);
  assert.ok(band);
  assert.ok(Math.abs(Number(band[1]) - 82) < 1e-9, 'band starts at original − 3 pt');
  const chosen = seriesGroups(svg).find((g) => g.name === 'chosen')!;
  const pt = tags(chosen.body, 'circle', 'point');
  assert.equal(pt.length, 1);
  assert.equal(attr(pt[0]!, 'data-x'), String(FAKE_CHOSEN));
});

test('meta-training: ΣCE and R in separate panels by epoch, lr step marked, diagnostics drawn', () => {
  for (const title of ['Σ CE of the generated networks', 'Sparsity regularizer R', 'Gradient balance ‖∇R‖ / ‖∇CE‖', 'BN scales of the generated networks']) {
    const svg = chart(title);
    assert.match(svg, /<text class="axis-label x-label"[^>]*>meta-epoch</);
    assert.match(svg, /<g class="ref-line" data-axis="x" data-value="29.5">/);
  }
  assert.equal(seriesGroups(chart('Σ CE of the generated networks')).length, 1);
});

test('summary formatted, configuration collapsed, environment in one line, zoo and stage tables', () => {
  const summary = /<section id="summary">(.*?)<\/section>/s.exec(html)![1]!;
  assert.ok(!/\d\.\d{6,}/.test(summary), 'no long floats in the summary');
  assert.match(summary, /<code>reg<\/code><\/th><td>1\.235e-4<\/td>/);
  assert.match(html, /<section id="configuration">\n<h2>Configuration<\/h2>\n<details class="config">/);
  assert.match(html, /<p class="environment">[^\n]*backend<\/span> wasm/);
  assert.match(html, /Data-model zoo \(test accuracy %\)/);
  assert.match(html, /<td>meta-train<\/td><td>120\.3<\/td>/);
});

test('per-layer widths of the final pruned networks, one chart per target', () => {
  const svg = chart('Output channels per layer, target 4×');
  const names = seriesGroups(svg).map((g) => g.name);
  assert.deepEqual(names, ['data model', '(a) metanet', '(b) prune-only', '(c) sparse-train']);
  const conv2 = (name: string) => Number(attr(tags(seriesGroups(svg).find((g) => g.name === name)!.body, 'rect', 'bar')[1]!, 'data-value'));
  assert.equal(conv2('data model'), 32);
  assert.equal(conv2('(b) prune-only'), 17); // round(32 / 2) + 1
});
