// Tiny SVG inspection helpers shared by the report tests (regex based: our output has a fixed, attribute-quoted shape).
import assert from 'node:assert/strict';

export interface Group {
  name: string;
  body: string;
  attrs: string;
}

export function seriesGroups(svg: string): Group[] {
  const out: Group[] = [];
  const re = /<g class="series" data-series="([^"]*)"([^>]*)>(.*?)<\/g>|<g class="series" data-series="([^"]*)"([^>]*)\/>/gs;
  for (const m of svg.matchAll(re)) {
    out.push({ name: m[1] ?? m[4] ?? '', attrs: m[2] ?? m[5] ?? '', body: m[3] ?? '' });
  }
  return out;
}

export function attr(tag: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
}

export function num(tag: string, name: string): number {
  const v = attr(tag, name);
  assert.ok(v !== undefined, `attribute ${name} missing in ${tag}`);
  return Number(v);
}

export function tags(svg: string, tag: string, cls?: string): string[] {
  const re = new RegExp(`<${tag}\\b[^>]*>`, 'g');
  return [...svg.matchAll(re)].map((m) => m[0]).filter((t) => cls === undefined || (attr(t, 'class') ?? '').split(' ').includes(cls));
}

export function plotArea(svg: string): { x: number; y: number; w: number; h: number } {
  const r = tags(svg, 'rect', 'plot-area')[0];
  assert.ok(r, 'plot-area rect present');
  return { x: num(r, 'x'), y: num(r, 'y'), w: num(r, 'width'), h: num(r, 'height') };
}

export function tickLabels(svg: string, axis: 'x-axis' | 'y-axis'): string[] {
  const m = new RegExp(`<g class="axis ${axis}">(.*?)</g>`, 's').exec(svg);
  assert.ok(m, `${axis} group present`);
  return [...(m[1] as string).matchAll(/<text class="tick-label[^"]*"[^>]*>(?:<title>[^<]*<\/title>)?([^<]*)<\/text>/g)].map((x) => x[1] as string);
}

/** Minimal XML well-formedness check: balanced tags, no raw '<' or '&' in text. */
export function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--.*?-->/gs;
  let last = 0;
  for (const m of xml.matchAll(re)) {
    const between = xml.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray markup near: ${between.slice(0, 60)}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|#39|#\d+);)/.test(between), `unescaped & near: ${between.slice(0, 60)}`);
    last = (m.index ?? 0) + m[0].length;
    if (m[0].startsWith('<!--')) continue;
    const [, close, name, , selfClose] = m;
    if (selfClose) continue;
    if (close) assert.equal(stack.pop(), name, `mismatched </${name}>`);
    else stack.push(name as string);
  }
  assert.ok(!/[<>]/.test(xml.slice(last)), 'trailing markup');
  assert.deepEqual(stack, [], 'all tags closed');
}
