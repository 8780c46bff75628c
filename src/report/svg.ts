/**
 * Dependency-free SVG building blocks: escaping, element serialisation, scales,
 * "nice" tick generation and number formatting. Used by ./charts.ts.
 *
 * Everything here works on plain numbers and strings; output is deterministic.
 */

/** Attribute values accepted by {@link el}. `undefined`/`null`/`false` omit the attribute. */
export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Readonly<Record<string, AttrValue>>;

// XML 1.0 forbids most C0 control characters even when escaped.
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Escapes text for use in XML/HTML element content or (double- or single-quoted) attribute values. */
export function escapeXml(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return s
    .replace(INVALID_XML_CHARS, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Rounds a coordinate to 2 decimals to keep SVG output compact and stable. */
export function fmtCoord(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function attrString(attrs: Attrs | undefined): string {
  if (!attrs) return '';
  let out = '';
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    const val = v === true ? k : typeof v === 'number' ? fmtCoord(v) : v;
    out += ` ${k}="${escapeXml(val)}"`;
  }
  return out;
}

/**
 * Serialises one element. `children` are already-serialised markup strings (NOT escaped);
 * use {@link text} for text content. With no children the element is self-closed.
 */
export function el(tag: string, attrs?: Attrs, ...children: ReadonlyArray<string | readonly string[]>): string {
  const flat = children.flat().filter((c) => c.length > 0);
  if (flat.length === 0) return `<${tag}${attrString(attrs)}/>`;
  return `<${tag}${attrString(attrs)}>${flat.join('')}</${tag}>`;
}

/** A `<text>` element with escaped content. */
export function text(content: unknown, attrs?: Attrs): string {
  return `<text${attrString(attrs)}>${escapeXml(content)}</text>`;
}

/** Okabe–Ito colour-blind-safe palette (yellow dropped: unreadable on white), then a few extras. */
export const PALETTE: readonly string[] = [
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#009E73', // bluish green
  '#CC79A7', // reddish purple
  '#E69F00', // orange
  '#56B4E9', // sky blue
  '#000000', // black
  '#882255', // wine
  '#999933', // olive
  '#7F7F7F', // grey
];

/** Dash patterns cycled once the palette is exhausted, so series stay distinguishable. */
const DASHES: readonly (string | undefined)[] = [undefined, '6 3', '2 2', '8 3 2 3'];

export function seriesColor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length] as string;
}

export function seriesDash(i: number): string | undefined {
  return DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
}

/** Rough text width estimate (px) for the sans-serif font used by the charts. */
export function estimateTextWidth(s: string, fontSize: number): number {
  let w = 0;
  for (const ch of s) {
    if (/[ilj.,:;'|!]/.test(ch)) w += 0.3;
    else if (/[mwMW@%]/.test(ch)) w += 0.85;
    else if (/[A-Z0-9]/.test(ch)) w += 0.64;
    else w += 0.55;
  }
  return w * fontSize;
}

/** Truncates `s` with an ellipsis so that it is at most `maxChars` code points long. */
export function truncate(s: string, maxChars: number): string {
  const chars = Array.from(s);
  if (chars.length <= maxChars) return s;
  return chars.slice(0, Math.max(1, maxChars - 1)).join('') + '…';
}

// ---------------------------------------------------------------------------------------------
// Scales and ticks
// ---------------------------------------------------------------------------------------------

/** A 1-D mapping from data space to pixel space. */
export interface Scale {
  readonly domain: readonly [number, number];
  readonly range: readonly [number, number];
  readonly log: boolean;
  map(v: number): number;
}

export function linearScale(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return { domain, range, log: false, map: (v: number) => r0 + ((v - d0) / span) * (r1 - r0) };
}

/** Log10 scale. The domain must be strictly positive. */
export function logScale(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const l0 = Math.log10(domain[0]);
  const l1 = Math.log10(domain[1]);
  const span = l1 - l0 || 1;
  const [r0, r1] = range;
  return { domain, range, log: true, map: (v: number) => r0 + ((Math.log10(v) - l0) / span) * (r1 - r0) };
}

/** A 1, 2 or 5 × 10^k step giving about `count` intervals over `span` (d3-style thresholds). */
export function tickStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const err = raw / power;
  const m = err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.SQRT2 ? 2 : 1;
  return m * power;
}

/** Removes floating-point noise (0.30000000000000004 → 0.3) relative to the tick step. */
function cleanTick(v: number, step: number): number {
  const decimals = Math.max(0, Math.min(15, -Math.floor(Math.log10(step)) + 2));
  const r = Number(v.toFixed(decimals));
  return Object.is(r, -0) ? 0 : r;
}

export interface Ticks {
  /** Domain covering the data, extended outwards to whole ticks when `extend` is true. */
  readonly domain: [number, number];
  readonly ticks: number[];
  /** Step between ticks (linear ticks) – used for label precision. */
  readonly step: number;
}

/**
 * Linear "nice" ticks for [min, max] with roughly `target` ticks. When `extend` is true the
 * returned domain is widened to the outermost ticks (so ticks sit on the plot edges).
 * Degenerate ranges (min == max) are widened around the value.
 */
export function niceTicks(min: number, max: number, target = 6, extend = true): Ticks {
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = tickStep(hi - lo, Math.max(1, target - 1));
  const first = extend ? Math.floor(lo / step + 1e-9) * step : Math.ceil(lo / step - 1e-9) * step;
  const last = extend ? Math.ceil(hi / step - 1e-9) * step : Math.floor(hi / step + 1e-9) * step;
  const ticks: number[] = [];
  const n = Math.round((last - first) / step);
  for (let i = 0; i <= n && i < 1000; i++) ticks.push(cleanTick(first + i * step, step));
  const domain: [number, number] = extend ? [cleanTick(first, step), cleanTick(last, step)] : [lo, hi];
  return { domain, ticks, step };
}

/**
 * Ticks for a log10 axis over the positive range [min, max]. Uses decades, then 1-2-5, then
 * 1..9 mantissas – whichever first yields at least 3 ticks – and falls back to linear nice ticks
 * for very narrow ranges (e.g. speed-ups between 1.1× and 1.6×).
 */
export function logTicks(min: number, max: number): Ticks {
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (!(lo > 0) || !Number.isFinite(hi)) {
    lo = 1;
    hi = 10;
  }
  if (lo === hi) {
    lo /= 1.5;
    hi *= 1.5;
  }
  // Pad 4% of the log span on each side so end points are not glued to the frame.
  const pad = (Math.log10(hi) - Math.log10(lo)) * 0.04;
  const dLo = 10 ** (Math.log10(lo) - pad);
  const dHi = 10 ** (Math.log10(hi) + pad);
  const mantissaSets: number[][] = [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
  for (const set of mantissaSets) {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(dLo)); e <= Math.ceil(Math.log10(dHi)); e++) {
      for (const m of set) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= dLo * (1 - 1e-12) && v <= dHi * (1 + 1e-12)) ticks.push(v);
      }
    }
    if (ticks.length >= 3 && ticks.length <= 12) {
      return { domain: [dLo, dHi], ticks, step: ticks.length > 1 ? (ticks[1] as number) - (ticks[0] as number) : 1 };
    }
  }
  const lin = niceTicks(dLo, dHi, 5, false);
  return { domain: [dLo, dHi], ticks: lin.ticks.filter((t) => t > 0), step: lin.step };
}

const SI: ReadonlyArray<[number, string]> = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/**
 * Formats the tick labels of one axis with a common style: the same number of decimals (derived
 * from the step, so neighbours differ: 0.0, 0.5, 1.0), SI suffixes (k, M, G, T) when the largest
 * magnitude is ≥ 10 000 (0, 20M, 40M), and exponents for tiny ranges (max < 1e-3).
 */
export function formatTicks(ticks: readonly number[], step?: number): string[] {
  const finite = ticks.filter((t) => Number.isFinite(t));
  const maxAbs = finite.length ? Math.max(...finite.map((t) => Math.abs(t))) : 0;
  const st = step !== undefined && step > 0 && Number.isFinite(step) ? step : maxAbs || 1;
  const decimalsFor = (unit: number): number => Math.max(0, Math.min(10, -Math.floor(Math.log10(st / unit) + 1e-9)));
  return ticks.map((v) => {
    if (!Number.isFinite(v)) return String(v);
    if (maxAbs >= 1e4) {
      const si = SI.find(([base]) => maxAbs >= base) ?? SI[SI.length - 1]!;
      if (v === 0) return '0';
      return `${(v / si[0]).toFixed(decimalsFor(si[0]))}${si[1]}`;
    }
    if (maxAbs > 0 && maxAbs < 1e-3) {
      if (v === 0) return '0';
      return stripZeros(v.toExponential(Math.max(0, Math.min(6, Math.ceil(Math.log10(Math.abs(v) / st) - 1e-9)))));
    }
    const r = v.toFixed(decimalsFor(1));
    return /^-0(\.0*)?$/.test(r) ? r.slice(1) : r;
  });
}

/** Formats a single tick value (see {@link formatTicks}). */
export function formatTick(v: number, step?: number): string {
  return formatTicks([v], step)[0] as string;
}

function stripZeros(s: string): string {
  if (s.includes('e')) {
    const [m, e] = s.split('e') as [string, string];
    return `${stripZeros(m)}e${e}`;
  }
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Formats a value for tooltips/tables: up to 4 significant digits, SI for big numbers. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const av = Math.abs(v);
  if (Number.isInteger(v) && av < 1e4) return String(v);
  if (av >= 1e4) {
    for (const [base, suffix] of SI) if (av >= base) return `${stripZeros((v / base).toPrecision(4))}${suffix}`;
  }
  if (av !== 0 && av < 1e-3) return v.toExponential(3);
  return stripZeros(v.toPrecision(4));
}

function parseHex(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (!m) return [0, 0, 0];
  const n = parseInt(m[1] as string, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function toHex(rgb: readonly number[]): string {
  return `#${rgb.map((v) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, '0')).join('')}`;
}

/** Mixes a `#rrggbb` colour with white: t = 0 keeps it, t = 1 gives white. */
export function lighten(color: string, t: number): string {
  return toHex(parseHex(color).map((v) => v + (255 - v) * t));
}

/** Viridis stops up to 0.9 (its last yellow is unreadable on white). */
const SEQUENTIAL: readonly string[] = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b'];

/** A colour from a perceptually ordered dark-to-light scale, t in [0, 1] (clamped; NaN gives the start). */
export function sequentialColor(t: number): string {
  const u = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = u * (SEQUENTIAL.length - 1);
  const i = Math.min(SEQUENTIAL.length - 2, Math.floor(pos));
  const a = parseHex(SEQUENTIAL[i] as string);
  const b = parseHex(SEQUENTIAL[i + 1] as string);
  const f = pos - i;
  return toHex(a.map((v, k) => v + ((b[k] as number) - v) * f));
}
