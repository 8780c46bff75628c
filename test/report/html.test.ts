import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport, writeReport, flattenObject, formatNumber, formatSummaryValue, type ReportOptions } from '../../src/report/html.js';
import { lineChart, barChart } from '../../src/report/charts.js';
import { collectEnvironment } from '../../src/report/environment.js';

function sampleOptions(): ReportOptions {
  return {
    title: 'Run <resnet56> & friends',
    subtitle: 'metaprune prune --config c.yaml train.epochs=3',
    summary: { model: 'resnet56', dense: { acc: 0.9341, macs: 125485706 }, pruned: { acc: 0.9312 }, speedup: 2.1193 },
    config: { name: 'exp', train: { epochs: 3, lr: 0.1, milestones: [1, 2] }, meta: { eps: 0.03 } },
    environment: { metapruneVersion: '0.1.0', node: 'v20.0.0', backend: 'wasm-simd', cpu: 'Test CPU @ 3GHz', cores: 2 },
    charts: [
      {
        title: 'Accuracy vs speed-up',
        svg: lineChart({ title: 'acc', xLabel: 'speed-up', yLabel: 'acc', series: [{ name: 'meta', points: [[1, 93], [2, 92]] }] }),
        caption: 'Higher is better',
      },
      {
        title: 'Channels',
        svg: '<?xml version="1.0"?>\n' + barChart({ title: 'ch', categories: ['c1', 'c2'], series: [{ name: 'before', values: [16, 32] }] }),
      },
    ],
    tables: [
      {
        title: 'Sweep',
        columns: ['speed-up', 'acc', 'note'],
        rows: [
          [1, 93.41, 'dense'],
          [2, 92.9, null],
          [3, 91.5, '<b>bold?</b>'],
        ],
      },
    ],
    notes: ['Synthetic data'],
    generatedAt: '2024-01-01T00:00:00.000Z',
  };
}

describe('renderReport', () => {
  const html = renderReport(sampleOptions());

  test('is a complete HTML document with escaped title', () => {
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<meta charset="utf-8">/);
    assert.match(html, /<title>Run &lt;resnet56&gt; &amp; friends<\/title>/);
    assert.match(html, /<\/html>\s*$/);
  });

  test('inlines the SVG charts (without XML prologs)', () => {
    assert.equal((html.match(/<svg /g) ?? []).length, 2);
    assert.ok(html.includes('data-series="meta"'));
    assert.ok(html.includes('data-series="before"'));
    assert.ok(!html.includes('<?xml'));
    assert.ok(html.includes('Higher is better'));
  });

  test('has summary, config, environment and data tables', () => {
    for (const id of ['summary', 'charts', 'tables', 'configuration', 'environment']) {
      assert.match(html, new RegExp(`<section id="${id}">`), id);
    }
    // Flattened summary / config keys with formatted values.
    assert.match(html, /<code>dense\.acc<\/code><\/th><td>93\.41 %<\/td>/);
    assert.match(html, /<code>speedup<\/code><\/th><td>2\.12×<\/td>/);
    assert.match(html, /<code>dense\.macs<\/code><\/th><td>125,485,706<\/td>/);
    assert.match(html, /<code>train\.milestones<\/code><\/th><td>\[1, 2\]<\/td>/);
    assert.match(html, /<code>meta\.eps<\/code>/);
    // Environment in one line; configuration collapsed.
    assert.match(html, /<p class="environment">[^\n]*<span class="env-key">cpu<\/span> Test CPU @ 3GHz<\/span>/);
    assert.match(html, /<span class="env-key">metapruneVersion<\/span> 0\.1\.0/);
    assert.match(html, /<details class="config"><summary>5 resolved settings[^<]*<\/summary>\n<div class="table-wrap"><table class="kv config">/);
    // Data table: header, numeric alignment, escaping, null as em dash.
    assert.match(html, /<th class="num" scope="col">acc<\/th>/);
    assert.match(html, /<td class="num">93\.41<\/td>/);
    assert.ok(html.includes('&lt;b&gt;bold?&lt;/b&gt;'));
    assert.ok(html.includes('<td>—</td>'));
  });

  test('is self-contained: no scripts, no external resources', () => {
    assert.ok(!/\ssrc=/i.test(html), 'no src=');
    assert.ok(!/href="(https?:)?\/\//i.test(html), 'no external href');
    assert.ok(!/<script/i.test(html), 'no scripts');
    assert.ok(!/<link/i.test(html), 'no linked stylesheets');
    assert.ok(!/@import/i.test(html), 'no CSS imports');
    for (const m of html.matchAll(/url\(([^)]*)\)/g)) assert.match(m[1]!, /^#/, 'only in-document url() refs');
    assert.match(html, /<style>/);
  });

  test('handles empty charts/tables and empty objects', () => {
    const h = renderReport({
      title: 't',
      summary: {},
      config: {},
      environment: { metapruneVersion: '0', node: 'v20', backend: 'js', cpu: '?' },
    });
    assert.ok(!h.includes('<section id="charts">'));
    assert.ok(h.includes('(empty)'));
  });
});

describe('writeReport', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-report-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('writes report.html atomically into the run directory', () => {
    const runDir = join(dir, 'run-1');
    const opts = sampleOptions();
    const file = writeReport(runDir, opts);
    assert.equal(file, join(runDir, 'report.html'));
    assert.equal(readFileSync(file, 'utf8'), renderReport(opts));
    writeReport(runDir, { ...sampleOptions(), title: 'second' });
    assert.match(readFileSync(file, 'utf8'), /<h1>second<\/h1>/);
    assert.deepEqual(readdirSync(runDir), ['report.html'], 'no temp files left');
  });
});

describe('helpers', () => {
  test('formatSummaryValue', () => {
    assert.equal(formatSummaryValue('comparison.accFinal', 0.83456), '83.46 %');
    assert.equal(formatSummaryValue('accBefore', 1), '100.00 %');
    assert.equal(formatSummaryValue('speedup', 2.0049), '2.00×');
    assert.equal(formatSummaryValue('minutes', 1.234), '1.2 min');
    assert.equal(formatSummaryValue('stageSeconds.meta-train', 120.25), '120.3 s');
    assert.equal(formatSummaryValue('reg', 0.000123456789), '1.235e-4');
    assert.equal(formatSummaryValue('lossRatio', 0.123456789), '0.1235');
    assert.equal(formatSummaryValue('macs', 125485706), '125,485,706');
    assert.equal(formatSummaryValue('zoo', [{ a: 1 }, { a: 2 }]), '2 entries (see Tables)');
    assert.equal(formatSummaryValue('rule', 'text'), 'text');
  });

  test('flattenObject', () => {
    assert.deepEqual(flattenObject({ a: 1, b: { c: [1, 2], d: { e: 'x' } }, f: {} }), [
      ['a', 1],
      ['b.c', [1, 2]],
      ['b.d.e', 'x'],
      ['f', '{}'],
    ]);
  });

  test('formatNumber', () => {
    assert.equal(formatNumber(1234567), '1,234,567');
    assert.equal(formatNumber(0.93412345), '0.934123');
    assert.equal(formatNumber(Number.NaN), 'NaN');
    assert.equal(formatNumber(1e-7), '1.0000e-7');
    assert.equal(formatNumber(-0), '0');
  });
});

describe('collectEnvironment', () => {
  test('reports version, node, backend, cpu and extras', () => {
    const env = collectEnvironment({ backend: 'js', extra: { threads: 1 } });
    assert.match(env.metapruneVersion, /^\d+\.\d+\.\d+/);
    assert.equal(env.node, process.version);
    assert.equal(env.backend, 'js');
    assert.equal(typeof env.cpu, 'string');
    assert.equal(env['threads'], 1);
  });
});
