import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileAtomic, removeDeadTempFiles, pidAlive } from '../../src/io/atomic.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-atomic-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a symlink planted at the old predictable temp name is neither followed nor overwritten', () => {
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'precious');
  const target = join(dir, 'out.json');
  // the name the old writer used: `.<name>.<pid>.tmp`
  symlinkSync(victim, join(dir, `.out.json.${process.pid}.tmp`));
  writeFileAtomic(target, 'new contents');
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.equal(readFileSync(target, 'utf8'), 'new contents');
  // no temp file of ours is left behind (only the planted link)
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [`.out.json.${process.pid}.tmp`]);
});

test('temp files of dead writers are removed, those of live ones kept', () => {
  const sub = join(dir, 'run', 'checkpoints');
  writeFileAtomic(join(sub, 'x.json'), '{}');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
  assert.ok(!pidAlive(Number(dead)));
  const deadTmp = join(sub, `.epoch_3.bin.${dead}.0123456789abcdef.tmp`);
  const legacyTmp = join(sub, `.summary.json.${dead}.tmp`);
  const liveTmp = join(sub, `.epoch_4.bin.${process.ppid}.0123456789abcdef.tmp`);
  for (const f of [deadTmp, legacyTmp, liveTmp]) writeFileSync(f, 'partial');
  const removed = removeDeadTempFiles(join(dir, 'run'));
  assert.deepEqual(removed.sort(), [deadTmp, legacyTmp].sort());
  assert.ok(!existsSync(deadTmp) && existsSync(liveTmp) && existsSync(join(sub, 'x.json')));
});
