// Opens a generated report.html in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core) and checks that the charts render with no console errors. Skips cleanly
// when Chromium or playwright-core is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildRunReport } from '../../src/report/run-report.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** A run directory with the files a Meta Pruning run writes, filled with fixed numbers. */
function fakeRun(dir: string): void {
  const curve = (drop: number) => [1, 1.5, 2, 3, 4].map((s, i) => ({ speedup: s, acc: 0.85 - drop * i }));
  const member = (epoch: number | null, drop: number) => ({ epoch, startAcc: 0.85, farAcc: 0.7, eligible: true, curves: [{ model: 10, curve: curve(drop) }] });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ out: dir, meta: { epochs: 2 } }));
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ chosenEpoch: 1, minutes: 1.5 }));
  writeFileSync(join(dir, 'selection.json'), JSON.stringify({ key: {}, value: { chosen: 1, rule: 'test rule', original: member(null, 0.1), family: [member(0, 0.08), member(1, 0.05)] } }));
  const summary = ['metanet', 'prune-only', 'sparse-train'].flatMap((arm, a) => [2, 3].map((t) => ({ arm, target: t, mean: 0.8 - 0.01 * a - 0.02 * t, std: 0.01, n: 3, meanPruned: 0.3 })));
  writeFileSync(join(dir, 'compare.json'), JSON.stringify({ key: {}, value: { rows: [], summary } }));
  writeFileSync(join(dir, 'metrics.jsonl'), [1, 2, 3].map((s) => JSON.stringify({ kind: 'meta-step', step: s, ce: 3 - s * 0.1, r: 1 + s * 0.1 })).join('\n') + '\n');
}

test('report.html renders its charts in headless Chromium without console errors', { skip: CHROMIUM === undefined ? 'Chromium not installed' : false }, async (t) => {
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    t.skip('playwright-core not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mp-report-'));
  try {
    fakeRun(dir);
    const file = buildRunReport(dir, 'wasm');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(pathToFileURL(file).href);
      const svgs = await page.locator('svg').count();
      assert.ok(svgs >= 3, `expected ≥ 3 charts (curves, comparison, meta-training), found ${svgs}`);
      // the curve chart has one series per family member, each with a drawn path of non-zero size
      const series = await page.locator('g.series').count();
      assert.ok(series >= 3 + 3, `series drawn: ${series}`);
      const box = await page.locator('svg').first().boundingBox();
      assert.ok(box !== null && box.width > 200 && box.height > 100, `chart size ${JSON.stringify(box)}`);
      assert.ok((await page.textContent('body'))!.includes('MACs speed-up'));
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
