import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireRunLock, claimRunDir, insideDir, reuseStage, LOCK_FILE, MANIFEST_FILE } from '../../src/io/run-dir.js';
import { readZoo } from '../../src/meta/zoo.js';

const root = mkdtempSync(join(tmpdir(), 'mp-rundir-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());

test('a second writer is refused with the holder named; the lock is released and a dead holder\'s lock is taken over', () => {
  const dir = join(root, 'lock');
  const a = acquireRunLock(dir, 'train');
  assert.throws(() => acquireRunLock(dir, 'prune'), (e: Error) => e.message.includes(`in use by 'train' (pid ${process.pid} on ${hostname()}`));
  a.release();
  assert.ok(!existsSync(join(dir, LOCK_FILE)));
  // a writer killed while holding the lock
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid, host: hostname(), command: 'train', started: '2026-01-01T00:00:00Z' }));
  const b = acquireRunLock(dir, 'train');
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  b.release();
  // a holder on another host cannot be checked: refused, saying which file to delete
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid, host: 'elsewhere', command: 'demo', started: 'x' }));
  assert.throws(() => acquireRunLock(dir, 'train'), /in use by 'demo' \(pid \d+ on elsewhere.*delete .*\.metaprune\.lock/);
});

test('a directory holding another run is refused unless resumed with the same settings or forced', () => {
  const dir = join(root, 'own');
  const settings = { model: 'smallcnn', train: { lr: 0.05, seed: 0 }, out: dir };
  claimRunDir(dir, { command: 'train', settings, mode: 'new' }).release();
  writeFileSync(join(dir, 'metrics.jsonl'), '{}\n');
  assert.throws(() => claimRunDir(dir, { command: 'train', settings, mode: 'new' }), /already holds a 'train' run; continue it with --resume, overwrite it with --force/);
  assert.throws(() => claimRunDir(dir, { command: 'pipeline', settings, mode: 'continue' }), /already holds a 'train' run/);
  const other = { ...settings, train: { lr: 0.1, seed: 3 } };
  assert.throws(() => claimRunDir(dir, { command: 'train', settings: other, mode: 'resume', ignore: ['out'] }),
    /cannot resume with other settings \(train\.lr 0\.05 → 0\.1, train\.seed 0 → 3\)/);
  claimRunDir(dir, { command: 'train', settings: { ...settings, out: 'elsewhere' }, mode: 'resume', ignore: ['out'] }).release();
  claimRunDir(dir, { command: 'train', settings: other, mode: 'force', outputs: ['metrics.jsonl', MANIFEST_FILE] }).release();
  assert.ok(!existsSync(join(dir, 'metrics.jsonl')));
  assert.deepEqual(JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')).settings, other);
  // a directory of unrelated files is not a run
  const foreign = join(root, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'thesis.tex'), '...');
  assert.throws(() => claimRunDir(foreign, { command: 'pipeline', settings, mode: 'continue' }), /already holds files \(thesis\.tex\)/);
  assert.throws(() => claimRunDir('', { command: 'train', settings, mode: 'new' }), /--out '': expected a directory path/);
});

test('claiming a directory removes temp files of dead writers', () => {
  const dir = join(root, 'tmp');
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  const t = join(dir, 'checkpoints', `.epoch_0.bin.${deadPid}.0123456789abcdef.tmp`);
  writeFileSync(t, 'partial');
  claimRunDir(dir, { command: 'train', settings: {}, mode: 'force' }).release();
  assert.ok(!existsSync(t));
});

test('paths read from a run directory must stay inside it', () => {
  assert.equal(insideDir('/runs/a', 'models/m1', 'zoo.json'), '/runs/a/models/m1');
  assert.throws(() => insideDir('/runs/a', '../../etc/passwd', 'zoo.json: entry 0'), /zoo\.json: entry 0: path '\.\.\/\.\.\/etc\/passwd' leaves the run directory/);
  const zoo = join(root, 'zoo');
  mkdirSync(zoo);
  writeFileSync(join(zoo, 'zoo.json'), JSON.stringify({ baseMacs: 1, entries: [{ index: 0, seed: 0, split: 'train', path: '../own/checkpoints/x' }] }));
  assert.throws(() => readZoo(zoo), /entry 0: path '\.\.\/own\/checkpoints\/x' leaves the run directory/);
});

test('a stage result is reused only with the same settings key and the same inputs', async () => {
  const f = join(root, 'selection.json');
  let computed = 0;
  const compute = async () => ++computed;
  assert.equal(await reuseStage(f, { a: 1 }, { 'metanet_epoch_0': 'h0' }, compute), 1);
  assert.equal(await reuseStage(f, { a: 1 }, { 'metanet_epoch_0': 'h0' }, compute), 1);
  assert.equal(await reuseStage(f, { a: 1 }, { 'metanet_epoch_0': 'h1' }, compute), 2, 'a retrained input invalidates the result');
  assert.equal(await reuseStage(f, { a: 2 }, { 'metanet_epoch_0': 'h1' }, compute), 3);
  assert.deepEqual(JSON.parse(readFileSync(f, 'utf8')), { key: { a: 2 }, inputs: { 'metanet_epoch_0': 'h1' }, done: true, value: 3 });
  // results written before inputs were recorded match on the key alone
  writeFileSync(f, JSON.stringify({ key: { a: 2 }, value: 7 }));
  assert.equal(await reuseStage(f, { a: 2 }, { 'metanet_epoch_0': 'h1' }, compute), 7);
});
