// The job queue end to end on a private redis-server: two `metaprune worker` processes, one
// SIGKILLed in the middle of a job, must give the same zoo as a local run (bit for bit); a
// killed and restarted coordinator resumes without re-running jobs; failures are clear and fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/tensor/backends/index.js';
import { buildZoo, DEFAULT_ZOO, readZoo, type ZooConfig, type ZooEntry } from '../../src/meta/zoo.js';
import { loadRecipe, runJobs, type DataRecipe } from '../../src/meta/workers.js';
import { main } from '../../src/cli/main.js';

const REDIS = spawnSync('redis-server', ['--version']).status === 0;
const SKIP = REDIS ? false : 'redis-server not installed (Debian: apt-get install redis-server); queue tests skipped';

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const MAIN = fileURLToPath(new URL(`../../src/cli/main.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url));
const NODE_ARGS = FROM_SOURCE ? ['--import', 'tsx', MAIN] : [MAIN];

const dir = mkdtempSync(join(tmpdir(), 'mp-queue-'));
const children: ChildProcess[] = [];
test.after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const recipe: DataRecipe = { spec: 'fashion-mnist-14', valImages: 300, splitSeed: 7 };
const cfg: ZooConfig = { ...DEFAULT_ZOO, width: 0.5, count: 3, heldOut: 1, trainImages: 600, recipe: { ...DEFAULT_ZOO.recipe, epochs: 1 } };
// the same settings as CLI overrides, for the coordinator run as a process
const CLI_CFG = ['workers=1', 'valImages=300', 'zoo.width=0.5', 'zoo.count=3', 'zoo.heldOut=1', 'zoo.trainImages=600', 'zoo.recipe.epochs=1'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A child process with its stderr collected; `waitFor` resolves when a line matches. */
function launch(args: string[]): { proc: ChildProcess; log: () => string; waitFor(re: RegExp): Promise<void> } {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let log = '';
  const waiters: { re: RegExp; resolve(): void }[] = [];
  const onData = (b: Buffer) => {
    log += b.toString();
    for (const w of [...waiters]) if (w.re.test(log)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  proc.stderr!.on('data', onData);
  proc.stdout!.on('data', onData);
  return {
    proc, log: () => log,
    waitFor: (re) => new Promise((resolve, reject) => {
      if (re.test(log)) return resolve();
      waiters.push({ re, resolve });
      proc.on('exit', () => { if (!re.test(log)) reject(new Error(`process exited before ${re}:\n${log}`)); });
    }),
  };
}

const worker = (url: string) => launch([...NODE_ARGS, 'worker', '--queue', url, '--concurrency', '1', '--lock-ms', '3000']);
const withoutTime = (es: ZooEntry[]) => es.map(({ seconds: _, ...e }) => e);
// distinct job ids a worker finished (on a loaded machine a starved lock can make a job run twice; ids still say which ran)
const doneIds = (log: string) => new Set([...log.matchAll(/done zoo-model job (\S+)/g)].map((m) => m[1]));

function assertSameZoo(a: string, b: string): void {
  const za = readZoo(a), zb = readZoo(b);
  assert.equal(zb.entries.length, cfg.count);
  assert.deepEqual(withoutTime(zb.entries), withoutTime(za.entries));
  for (const e of za.entries) assert.ok(readFileSync(join(a, `${e.path}.bin`)).equals(readFileSync(join(b, `${e.path}.bin`))), `${e.path}.bin differs`);
}

test('bad queue URL or Redis down: a clear error within seconds, exit code 1', async () => {
  const port = await freePort(); // nothing listens there
  const job = { workers: 1, recipe, inProcess: () => 0 };
  const t0 = Date.now();
  await assert.rejects(runJobs('zoo-model', [0], { ...job, queue: { url: `redis://127.0.0.1:${port}` } }), /cannot reach Redis/);
  assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
  await assert.rejects(runJobs('zoo-model', [0], { ...job, queue: { url: 'http://127.0.0.1:6379' } }), /expected a redis:\/\/ or rediss:\/\/ URL/);
  await assert.rejects(runJobs('zoo-model', [0], { ...job, queue: { url: 'localhost:6379' } }), /expected a redis:\/\/|not a URL/);
  const err: string[] = [];
  const code = await main(['zoo', '--out', join(dir, 'down'), '--queue', `redis://127.0.0.1:${port}`, ...CLI_CFG], { out: () => undefined, err: (l) => err.push(l) });
  assert.equal(code, 1);
  assert.match(err.join('\n'), /cannot reach Redis/);
});

test('queue: a worker SIGKILLed mid-job, a coordinator killed and restarted → the same zoo as a local run', { skip: SKIP }, async () => {
  const local = join(dir, 'local');
  const data = loadRecipe(recipe);
  await buildZoo(cfg, data, local, {}, { workers: 1, loadData: recipe });

  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(server);
  const url = `redis://127.0.0.1:${port}`;
  const a = worker(url), b = worker(url);
  await Promise.all([a.waitFor(/taking jobs/), b.waitFor(/taking jobs/)]);

  // kill worker a shortly after it starts a job: that job must be taken over by b
  void a.waitFor(/start zoo-model/).then(() => setTimeout(() => a.proc.kill('SIGKILL'), 200));
  const queued = join(dir, 'queued');
  await buildZoo(cfg, data, queued, {}, { workers: 1, loadData: recipe, queue: { url } });
  assert.equal(a.proc.signalCode, 'SIGKILL');
  assert.doesNotMatch(a.log(), /done zoo-model/, 'worker a finished its job before it was killed: nothing was retried');
  const killedJob = /start zoo-model job (\S+)/.exec(a.log())![1];
  assert.ok(doneIds(b.log()).has(killedJob), `the killed worker's job ${killedJob} was not run by the other one:\n${b.log()}`);
  assert.equal(doneIds(b.log()).size, 3, b.log());
  assertSameZoo(local, queued);

  // the coordinator as a process, killed after its first result, then run again: it waits for the
  // jobs already queued or done instead of enqueuing new ones, so b runs each job once
  const restarted = join(dir, 'restarted');
  const coord = launch([...NODE_ARGS, 'zoo', '--out', restarted, '--queue', url, ...CLI_CFG]);
  await coord.waitFor(/data model 1\/3/);
  // wait until it is reaped: a zombie still answers kill(pid, 0), so its run-directory lock would look held
  const exited = new Promise((resolve) => coord.proc.once('exit', resolve));
  coord.proc.kill('SIGKILL');
  await exited;
  const err: string[] = [];
  assert.equal(await main(['zoo', '--out', restarted, '--queue', url, ...CLI_CFG], { out: () => undefined, err: (l) => err.push(l) }), 0, err.join('\n'));
  assertSameZoo(local, join(restarted, 'zoo'));
  assert.equal(doneIds(b.log()).size, 6, b.log());

  // a job that fails deterministically fails the run at once with the worker's message
  await assert.rejects(
    runJobs('zoo-model', [{ cfg: { ...cfg, model: 'no-such-model' }, dir: join(dir, 'bad'), index: 0 }], { workers: 1, recipe, inProcess: () => 0, queue: { url } }),
    /zoo-model job failed on a queue worker: .*unknown model 'no-such-model'/,
  );
  assert.equal(b.log().match(/failed zoo-model/g)?.length, 1, 'the failing job was retried');
});
