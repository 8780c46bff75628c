// Opens a generated report.html in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core) and checks that the charts render with no console errors. Skips cleanly
// when Chromium or playwright-core is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildRunReport } from '../../src/report/run-report.js';
import { fakeRun } from './fake-run.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

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
    // generous timeouts: the machine this runs on may be heavily shared
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 180_000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(180_000);
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
      // as laid out by the browser: no legend entry or colour-bar label sticks out of its chart
      const clipped = await page.evaluate(() => {
        const out: string[] = [];
        for (const svg of Array.from(document.querySelectorAll('svg'))) {
          const box = svg.getBoundingClientRect();
          for (const item of Array.from(svg.querySelectorAll('.legend-item, .color-bar text, .series-label, .row-value'))) {
            const b = item.getBoundingClientRect();
            if (b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1) out.push(`${svg.getAttribute('aria-label')}: ${item.textContent}`);
          }
        }
        return out;
      });
      assert.deepEqual(clipped, []);
      // the chosen epoch's curve is drawn thicker than every other member of the family
      const widths = await page.evaluate(() => Array.from(document.querySelectorAll('svg[aria-label^="No-finetune"] g.series path.line')).map((p) => [p.parentElement!.getAttribute('data-series'), Number(getComputedStyle(p).strokeWidth.replace('px', ''))] as const));
      const chosen = widths.filter(([n]) => n!.includes('chosen'));
      assert.equal(chosen.length, 1);
      for (const [n, w] of widths) if (!n!.includes('chosen')) assert.ok(w < chosen[0]![1], `${n} ${w}`);
      // the comparison bars: an error bar per bar, axis from 0
      assert.equal(await page.locator('svg[aria-label^="Comparison"] g.error-bar').count(), await page.locator('svg[aria-label^="Comparison"] rect.bar').count());
      assert.equal(await page.locator('svg[aria-label^="Comparison"] .y-axis .tick-label').first().textContent(), '0');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
