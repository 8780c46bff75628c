import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, formatDuration, type ProgressStream } from '../../src/cli/progress.js';

class FakeStream implements ProgressStream {
  out = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
  ) {}
  write(chunk: string): boolean {
    this.out += chunk;
    return true;
  }
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('Progress (non-TTY)', () => {
  test('prints plain lines at most once per interval, plus the final line', () => {
    const s = new FakeStream(false);
    const c = clock();
    const p = new Progress({ total: 100, label: 'train', stream: s, now: c.now, intervalMs: 5000 });
    for (let i = 0; i < 100; i++) {
      c.advance(200); // 100 steps × 200 ms = 20 s → at most 4 periodic lines
      p.tick(1, `loss ${(1 / (i + 1)).toFixed(3)}`);
    }
    p.done();
    p.done(); // idempotent
    const lines = s.out.split('\n').filter((l) => l.length > 0);
    assert.ok(!s.out.includes('\r') && !s.out.includes('\x1b'), 'no control characters');
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.match(lines[0]!, /^train 25\/100 \(25%\) · 5\.0 it\/s · elapsed 5\.0s · ETA 15s · loss 0\.040$/);
    assert.match(lines[4]!, /^train 100\/100 \(100%\) · 5\.0 it\/s · done in 20s · loss 0\.010$/);
  });

  test('a short run prints only the final line', () => {
    const s = new FakeStream(false);
    const c = clock();
    const p = new Progress({ total: 3, label: 'eval', stream: s, now: c.now });
    p.tick();
    p.tick();
    p.tick();
    c.advance(1500);
    p.done('acc 0.91');
    assert.equal(s.out, 'eval 3/3 (100%) · 2.0 it/s · done in 1.5s · acc 0.91\n');
  });

  test('total of 0 / unknown total works without NaN', () => {
    const s = new FakeStream(false);
    const c = clock();
    const p = new Progress({ total: 0, stream: s, now: c.now, intervalMs: 0 });
    c.advance(100);
    p.tick(5);
    p.done();
    assert.ok(!/NaN|Infinity/.test(s.out), s.out);
    assert.match(s.out, /5 it/);
    assert.match(s.out, /done in/);
    const z = new FakeStream(false);
    const q = new Progress({ total: 0, stream: z, now: c.now });
    q.done();
    assert.ok(!/NaN|Infinity/.test(z.out), z.out);
    assert.equal(z.out.split('\n').length, 2);
  });
});

describe('Progress (TTY)', () => {
  test('redraws one line with bar, percentage and ETA', () => {
    const s = new FakeStream(true);
    const c = clock();
    const p = new Progress({ total: 10, label: 'prune', stream: s, now: c.now, redrawMs: 0 });
    c.advance(1000);
    p.tick(2, 'step');
    assert.match(s.out, /\r\x1b\[2Kprune █+░+ {2}20% · 2\/10 · 2\.0 it\/s · elapsed 1\.0s · ETA 4\.0s · step/);
    assert.ok(!s.out.includes('\n'), 'no newline while running');
    c.advance(4000);
    p.update(10);
    p.done();
    assert.ok(s.out.endsWith('\n'));
    assert.match(s.out, /100% · 10\/10 .*done in 5\.0s/);
  });

  test('throttles redraws and fits the terminal width', () => {
    const s = new FakeStream(true, 40);
    const c = clock();
    const p = new Progress({ total: 1000, stream: s, now: c.now, redrawMs: 100 });
    for (let i = 0; i < 1000; i++) {
      c.advance(1);
      p.tick(1, 'a very long status message that will not fit in forty columns');
    }
    const draws = s.out.split('\r').filter((x) => x.length > 0);
    assert.ok(draws.length <= 12, `${draws.length} redraws`);
    for (const d of draws) assert.ok(Array.from(d.replace('\x1b[2K', '')).length <= 39, d);
  });

  test('log() prints above the bar', () => {
    const s = new FakeStream(true);
    const c = clock();
    const p = new Progress({ total: 4, stream: s, now: c.now, redrawMs: 0 });
    p.tick();
    p.log('checkpoint saved');
    assert.match(s.out, /\r\x1b\[2Kcheckpoint saved\n\r\x1b\[2K/);
  });
});

describe('robustness', () => {
  test('never throws, even when the stream or clock does', () => {
    const bad: ProgressStream = {
      isTTY: true,
      write() {
        throw new Error('EPIPE');
      },
    };
    const p = new Progress({ total: 5, stream: bad, now: () => Number.NaN });
    p.tick(Number.NaN);
    p.update(Infinity);
    p.log('x');
    p.done();
    const q = new Progress({
      total: Number.NaN,
      stream: new FakeStream(false),
      now: () => {
        throw new Error('clock');
      },
    });
    q.tick();
    q.done();
  });

  test('formatDuration', () => {
    assert.equal(formatDuration(4.25), '4.3s');
    assert.equal(formatDuration(37.4), '37s');
    assert.equal(formatDuration(187), '3m07s');
    assert.equal(formatDuration(3720), '1h02m');
    assert.equal(formatDuration(Number.NaN), '--');
  });
});
