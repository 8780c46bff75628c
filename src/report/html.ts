/**
 * Self-contained HTML run report: one page, inline CSS and inline SVG charts, no scripts and no
 * external resources, so it opens from disk anywhere (and survives being mailed or archived).
 */
import { join } from 'node:path';
import { escapeXml } from './svg.js';
import { writeTextAtomic } from './metrics.js';

/** A table cell. Numbers are formatted and right-aligned; null/undefined render as an em dash. */
export type Cell = string | number | boolean | null | undefined;

export interface ReportTable {
  readonly title: string;
  readonly columns: ReadonlyArray<string>;
  readonly rows: ReadonlyArray<ReadonlyArray<Cell>>;
  readonly caption?: string;
}

export interface ReportChart {
  readonly title: string;
  /** A complete `<svg>…</svg>` string, e.g. from lineChart()/barChart(). Inserted verbatim. */
  readonly svg: string;
  readonly caption?: string;
}

export interface ReportEnvironment {
  readonly metapruneVersion: string;
  readonly node: string;
  readonly backend: string;
  readonly cpu: string;
  readonly [key: string]: unknown;
}

export interface ReportOptions {
  readonly title: string;
  /** Shown under the title, e.g. the command line. */
  readonly subtitle?: string;
  /** Contents of summary.json (nested objects are flattened to dotted keys). */
  readonly summary: object;
  /** The resolved config (config.json). */
  readonly config: object;
  readonly environment: ReportEnvironment;
  readonly charts?: ReadonlyArray<ReportChart>;
  readonly tables?: ReadonlyArray<ReportTable>;
  /** Free-text notes / warnings shown near the top. */
  readonly notes?: ReadonlyArray<string>;
  /** ISO timestamp shown in the header. Default: now. */
  readonly generatedAt?: string;
}

const esc = escapeXml;

/** Formats a number for tables: integers with digit grouping, others with ≤ 6 significant digits. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (Object.is(v, -0)) return '0';
  if (Number.isInteger(v)) return Math.abs(v) >= 1e21 ? v.toExponential(4) : v.toLocaleString('en-US');
  const av = Math.abs(v);
  if (av >= 1e15 || av < 1e-4) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

function formatCell(v: unknown): { text: string; numeric: boolean } {
  if (v === null || v === undefined) return { text: '—', numeric: false };
  if (typeof v === 'number') return { text: formatNumber(v), numeric: true };
  if (typeof v === 'bigint') return { text: v.toLocaleString('en-US'), numeric: true };
  if (typeof v === 'boolean') return { text: v ? 'true' : 'false', numeric: false };
  if (typeof v === 'string') return { text: v, numeric: false };
  if (Array.isArray(v)) {
    const scalar = v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x));
    if (scalar) {
      const shown = v.slice(0, 32).map((x) => (typeof x === 'number' ? formatNumber(x) : typeof x === 'string' ? x : String(x)));
      return { text: `[${shown.join(', ')}${v.length > 32 ? `, … (${v.length} items)` : ''}]`, numeric: false };
    }
  }
  try {
    return { text: JSON.stringify(v) ?? String(v), numeric: false };
  } catch {
    return { text: String(v), numeric: false };
  }
}

/**
 * Flattens nested plain objects into `[dotted.key, value]` rows. Arrays are kept as leaf values;
 * empty objects become a `{}` leaf.
 */
export function flattenObject(obj: object, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      const inner = flattenObject(v as object, key);
      if (inner.length === 0) out.push([key, '{}']);
      else out.push(...inner);
    } else {
      out.push([key, ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v]);
    }
  }
  return out;
}

function slug(s: string, used: Set<string>): string {
  const base =
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48) || 'section';
  let id = base;
  for (let i = 2; used.has(id); i++) id = `${base}-${i}`;
  used.add(id);
  return id;
}

function renderTable(columns: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<unknown>>, cls: string): string {
  if (rows.length === 0) return '<p class="empty">(empty)</p>';
  // A column is right-aligned when all its non-empty cells are numeric.
  const numericCol = columns.map((_, c) =>
    rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number' || typeof r[c] === 'bigint'),
  );
  const head = `<thead><tr>${columns.map((c, i) => `<th${numericCol[i] ? ' class="num"' : ''} scope="col">${esc(c)}</th>`).join('')}</tr></thead>`;
  const body = rows
    .map((r) => {
      const width = Math.max(columns.length, r.length);
      const cells: string[] = [];
      for (let c = 0; c < width; c++) {
        const { text, numeric } = formatCell(r[c]);
        cells.push(`<td${numeric && numericCol[c] !== false ? ' class="num"' : ''}>${esc(text)}</td>`);
      }
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table class="${cls}">${head}<tbody>\n${body}\n</tbody></table></div>`;
}

/**
 * A summary value as a reader wants it, chosen by its key: accuracies (fractions) as percent with
 * 2 decimals, speed-ups with 2 decimals and ×, times with their unit, other floats with 4 significant
 * digits; lists of records are left to the tables.
 */
export function formatSummaryValue(key: string, v: unknown): string {
  const leaf = key.split('.').pop() ?? key;
  if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) return `${v.length} entries (see Tables)`;
  if (typeof v !== 'number' || !Number.isFinite(v)) return formatCell(v).text;
  if (/acc/i.test(leaf) && v >= 0 && v <= 1) return `${(100 * v).toFixed(2)} %`;
  if (/speed-?up/i.test(leaf)) return `${v.toFixed(2)}×`;
  if (/seconds$/i.test(leaf) || /^stageSeconds\./.test(key)) return `${v.toFixed(1)} s`;
  if (/minutes$/i.test(leaf)) return `${v.toFixed(1)} min`;
  if (Number.isInteger(v)) return formatNumber(v);
  const av = Math.abs(v);
  return av !== 0 && (av < 1e-3 || av >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

function keyValueTable(obj: object, cls: string, format: (key: string, v: unknown) => string = (_k, v) => formatCell(v).text): string {
  const rows = flattenObject(obj).map(([k, v]) => [k, v]);
  if (rows.length === 0) return '<p class="empty">(empty)</p>';
  const body = rows
    .map(([k, v]) => {
      // Values stay left-aligned here: a key/value list mixes text and numbers.
      const text = format(k as string, v);
      return `<tr><th scope="row"><code>${esc(k)}</code></th><td>${esc(text)}</td></tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table class="kv ${cls}"><tbody>\n${body}\n</tbody></table></div>`;
}

/** The environment as one line of "key value" items (backend, threads, versions, machine). */
function environmentLine(env: ReportEnvironment): string {
  const items = flattenObject(env).map(([k, v]) => `<span class="env-item"><span class="env-key">${esc(k)}</span> ${esc(formatCell(v).text)}</span>`);
  return `<p class="environment">${items.join(' · ')}</p>`;
}

/** Strips an XML prolog / doctype so an SVG document can be inlined in HTML. */
function inlineSvg(svg: string): string {
  return svg
    .replace(/^\uFEFF/, '')
    .replace(/<\?xml[^>]*\?>\s*/i, '')
    .replace(/<!DOCTYPE[^>]*>\s*/i, '')
    .trim();
}

const CSS = `
:root { --fg:#1d1d1f; --muted:#5f6368; --line:#e3e3e3; --bg:#ffffff; --panel:#fafafa; --accent:#0072B2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 64px; }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header .subtitle { margin: 0 0 4px; color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; word-break: break-all; }
header .meta { color: var(--muted); font-size: 12.5px; margin: 0; }
nav.toc { margin: 16px 0 8px; padding: 8px 0; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); font-size: 13px; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 18px; }
nav.toc a:hover { text-decoration: underline; }
section { margin-top: 30px; }
h2 { font-size: 19px; margin: 0 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--fg); }
h3 { font-size: 15px; margin: 0 0 8px; }
.notes { background: #fff8e1; border-left: 4px solid #E69F00; padding: 8px 14px; margin: 16px 0 0; }
.notes p { margin: 4px 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 660px), 1fr)); gap: 18px; }
figure.chart { margin: 0; padding: 12px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; min-width: 0; }
figure.chart.wide { grid-column: 1 / -1; }
.chart-wrap { overflow-x: auto; }
.chart-wrap svg { display: block; margin: 0 auto; max-width: 100%; height: auto; }
figure.chart.wide .chart-wrap svg { max-width: none; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 6px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 0 0 6px; min-width: 40%; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f6f7f9; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { font-weight: normal; white-space: nowrap; }
table.kv code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #333; }
table.kv td { font-variant-numeric: tabular-nums; word-break: break-word; }
.block { margin-bottom: 22px; }
.empty { color: var(--muted); font-style: italic; }
details.config > summary { cursor: pointer; color: var(--accent); margin-bottom: 8px; }
p.environment { font-size: 12.5px; color: var(--fg); margin: 0; }
.env-key { color: var(--muted); }
footer { margin-top: 48px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print { main { max-width: none; padding: 0; } nav.toc { display: none; } figure.chart, table { break-inside: avoid; } }
`;

/** Renders the complete report page. Pure function of its input (plus `generatedAt` default). */
export function renderReport(opts: ReportOptions): string {
  const used = new Set<string>();
  const generatedAt = opts.generatedAt ?? new Date().toISOString();
  const charts = opts.charts ?? [];
  const tables = opts.tables ?? [];
  const sections: Array<{ id: string; title: string; html: string }> = [];

  sections.push({ id: slug('summary', used), title: 'Summary', html: keyValueTable(opts.summary, 'summary', formatSummaryValue) });

  if (charts.length > 0) {
    const figs = charts
      .map((c) => {
        const svg = inlineSvg(c.svg);
        const w = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1] ?? '0');
        const wide = w > 1000 ? ' wide' : '';
        return (
          `<figure class="chart${wide}" id="${slug(`chart-${c.title}`, used)}">` +
          `<h3>${esc(c.title)}</h3><div class="chart-wrap">${svg}</div>` +
          (c.caption ? `<figcaption>${esc(c.caption)}</figcaption>` : '') +
          `</figure>`
        );
      })
      .join('\n');
    sections.push({ id: slug('charts', used), title: 'Charts', html: `<div class="charts">\n${figs}\n</div>` });
  }

  if (tables.length > 0) {
    const html = tables
      .map(
        (t) =>
          `<div class="block" id="${slug(`table-${t.title}`, used)}"><h3>${esc(t.title)}</h3>` +
          renderTable(t.columns, t.rows, 'data') +
          (t.caption ? `<p class="caption">${esc(t.caption)}</p>` : '') +
          `</div>`,
      )
      .join('\n');
    sections.push({ id: slug('tables', used), title: 'Tables', html });
  }

  const nConfig = flattenObject(opts.config).length;
  sections.push({
    id: slug('configuration', used), title: 'Configuration',
    html: `<details class="config"><summary>${nConfig} resolved settings (click to show)</summary>\n${keyValueTable(opts.config, 'config')}\n</details>`,
  });
  sections.push({ id: slug('environment', used), title: 'Environment', html: environmentLine(opts.environment) });

  const toc = sections.map((s) => `<a href="#${s.id}">${esc(s.title)}</a>`).join('');
  const notes =
    opts.notes && opts.notes.length > 0
      ? `<div class="notes">${opts.notes.map((n) => `<p>${esc(n)}</p>`).join('')}</div>`
      : '';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="metaprune ${esc(opts.environment.metapruneVersion)}">
<title>${esc(opts.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${esc(opts.title)}</h1>
${opts.subtitle ? `<p class="subtitle">${esc(opts.subtitle)}</p>\n` : ''}<p class="meta">Generated ${esc(generatedAt)} · metaprune ${esc(opts.environment.metapruneVersion)} · backend ${esc(opts.environment.backend)}</p>
</header>
${notes}
<nav class="toc">${toc}</nav>
${sections.map((s) => `<section id="${s.id}">\n<h2>${esc(s.title)}</h2>\n${s.html}\n</section>`).join('\n')}
<footer>metaprune report · self-contained file (no external resources)</footer>
</main>
</body>
</html>
`;
}

/** Renders the report and writes `<runDir>/report.html` atomically. Returns the file path. */
export function writeReport(runDir: string, opts: ReportOptions): string {
  const file = join(runDir, 'report.html');
  writeTextAtomic(file, renderReport(opts));
  return file;
}
