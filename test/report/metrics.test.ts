import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsWriter, readMetrics, writeJsonAtomic, writeTextAtomic, metricSeries } from '../../src/report/metrics.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mp-metrics-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fixedClock(): () => Date {
  let t = Date.UTC(2024, 0, 1, 12, 0, 0);
  return () => new Date((t += 1000));
}

describe('MetricsWriter', () => {
  test('writes one JSON object per line with an ISO time stamp', () => {
    const file = join(dir, 'a', 'metrics.jsonl');
    const w = new MetricsWriter(file, { now: fixedClock() });
    w.write({ epoch: 1, loss: 0.5 });
    w.write({ epoch: 2, loss: 0.25, phase: 'train', nested: { a: [1, 2] } });
    w.close();
    w.close(); // idempotent
    const raw = readFileSync(file, 'utf8');
    assert.ok(raw.endsWith('\n'));
    const lines = raw.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(Object.keys(first)[0], 'time', 'time is the first key');
    assert.equal(first['time'], '2024-01-01T12:00:01.000Z');
    assert.equal(first['loss'], 0.5);
    assert.match(String(JSON.parse(lines[1]!).time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.throws(() => w.write({ x: 1 }), /closed/);
  });

  test('non-JSON numbers and bigints are serialised safely; strings with newlines stay on one line', () => {
    const file = join(dir, 'b.jsonl');
    const w = new MetricsWriter(file);
    w.write({ loss: Number.NaN, inf: Infinity, big: 12n, text: 'line1\nline2', time: 'ignored' });
    w.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 1);
    const r = readMetrics(file)[0]!;
    assert.equal(r['loss'], null);
    assert.equal(r['inf'], null);
    assert.equal(r['big'], 12);
    assert.equal(r['text'], 'line1\nline2');
    assert.notEqual(r.time, 'ignored', 'writer time wins');
  });

  test('appends to an existing file and repairs a truncated last line', () => {
    const file = join(dir, 'c.jsonl');
    writeFileSync(file, '{"time":"t","epoch":1}\n{"time":"t","epo');
    const w = new MetricsWriter(file);
    w.write({ epoch: 2 });
    w.close();
    const bad: number[] = [];
    const recs = readMetrics(file, { onBadLine: (n) => bad.push(n) });
    assert.deepEqual(
      recs.map((r) => r['epoch']),
      [1, 2],
    );
    assert.deepEqual(bad, [2]);
  });
});

describe('readMetrics', () => {
  test('tolerates a truncated last line, blank lines and non-object lines', () => {
    const file = join(dir, 'd.jsonl');
    writeFileSync(file, '{"step":1,"ce":1.5}\n\n{"step":2,"ce":1.2}\n[1,2]\n{"step":3,"ce":');
    const recs = readMetrics(file);
    assert.deepEqual(
      recs.map((r) => r['step']),
      [1, 2],
    );
  });

  test('missing file gives an empty list', () => {
    assert.deepEqual(readMetrics(join(dir, 'nope.jsonl')), []);
  });

  test('a file being appended line by line is always readable', () => {
    const file = join(dir, 'e.jsonl');
    const w = new MetricsWriter(file);
    for (let i = 0; i < 50; i++) {
      w.write({ i });
      assert.equal(readMetrics(file).length, i + 1);
    }
    w.close();
    // Simulate a crash mid-write of the next line.
    appendFileSync(file, '{"i": 5');
    assert.equal(readMetrics(file).length, 50);
  });
});

describe('metricSeries', () => {
  test('extracts [x, y] pairs with optional filter and NaN for missing values', () => {
    const recs = [
      { phase: 'train', epoch: 1, loss: 2 },
      { phase: 'val', epoch: 1, acc: 0.5 },
      { phase: 'train', epoch: 2, loss: null },
      { phase: 'train', epoch: 3, loss: 1 },
    ];
    assert.deepEqual(metricSeries(recs, 'epoch', 'loss'), [
      [1, 2],
      [3, 1],
    ]);
    const withGaps = metricSeries(recs, 'epoch', 'loss', { filter: (r) => r['phase'] === 'train', keepMissing: true });
    assert.equal(withGaps.length, 3);
    assert.ok(Number.isNaN(withGaps[1]![1]));
    assert.deepEqual(metricSeries(recs, (_r, i) => i, 'acc'), [[1, 0.5]]);
  });
});

describe('atomic writes', () => {
  test('writeJsonAtomic writes pretty JSON, overwrites, and leaves no temp files', () => {
    const sub = join(dir, 'run1');
    const file = join(sub, 'summary.json');
    writeJsonAtomic(file, { acc: 0.9, nested: { macs: 123 } });
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { acc: 0.9, nested: { macs: 123 } });
    assert.ok(readFileSync(file, 'utf8').endsWith('}\n'));
    writeJsonAtomic(file, { acc: 0.95 });
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { acc: 0.95 });
    assert.deepEqual(readdirSync(sub), ['summary.json']);
  });

  test('a failed write leaves the previous file intact and cleans up', () => {
    const sub = join(dir, 'run2');
    const file = join(sub, 'config.json');
    writeJsonAtomic(file, { a: 1 });
    // Renaming a file over a non-empty directory fails: the target must stay as it was.
    const blocker = join(sub, 'blocked');
    writeJsonAtomic(join(blocker, 'x.json'), {});
    assert.throws(() => writeTextAtomic(blocker, 'data'));
    assert.ok(existsSync(join(blocker, 'x.json')));
    assert.deepEqual(readdirSync(sub).sort(), ['blocked', 'config.json']);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { a: 1 });
  });
});

test('a symlink planted at metrics.jsonl does not redirect the appends', () => {
  const d = mkdtempSync(join(tmpdir(), 'mp-metrics-link-'));
  try {
    const victim = join(d, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(d, 'metrics.jsonl'));
    assert.throws(() => new MetricsWriter(join(d, 'metrics.jsonl')), /ELOOP|symbolic link/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
