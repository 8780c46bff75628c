/**
 * `node dist/bench/queue.js`: the job queue on this machine, with a private redis-server.
 *  - throughput: a zoo of 8 smallcnn models on 1 vs 2 `metaprune worker` processes (1 job each at a time);
 *  - overhead per job: 20 tiny zoo jobs through the queue (1 worker) vs the same jobs one after
 *    another in a local job thread; the difference / 20 is what the queue adds to each job
 *    (enqueue, Redis round trips, scratch files, result blobs, landing the files).
 * Needs redis-server (Debian package); prints why and exits otherwise.
 * `--sizes`: only the blob sizes behind the README's 50-machine ResNet-56 estimate (no Redis).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/tensor/backends/index.js';
import { buildZoo, DEFAULT_ZOO, type ZooConfig } from '../src/meta/zoo.js';
import { JobThread, loadRecipe, runJobs, type DataRecipe } from '../src/meta/workers.js';
import { Metanet, saveMetanet } from '../src/meta/metanet.js';
import { DEFAULT_META_TRAIN } from '../src/meta/metatrain.js';
import { buildModel } from '../src/models/index.js';
import { initParams } from '../src/ir/init.js';
import { saveCheckpoint } from '../src/io/checkpoint.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const recipe: DataRecipe = { spec: 'fashion-mnist-14', valImages: 300, splitSeed: 7 };
const ZOO8: ZooConfig = { ...DEFAULT_ZOO, count: 8, heldOut: 1, trainImages: 2000, recipe: { ...DEFAULT_ZOO.recipe, epochs: 1 } };
const TINY: ZooConfig = { ...DEFAULT_ZOO, width: 0.25, count: 20, heldOut: 1, trainImages: 32, recipe: { ...DEFAULT_ZOO.recipe, epochs: 1 }, prePrune: { ...DEFAULT_ZOO.prePrune, speedup: 1 } };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function startWorker(url: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, [MAIN, 'worker', '--queue', url, '--concurrency', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve) => p.stderr!.on('data', (b: Buffer) => { if (b.toString().includes('taking jobs')) resolve(p); }));
}

async function withWorkers<T>(url: string, n: number, fn: () => Promise<T>): Promise<T> {
  const ws = await Promise.all(Array.from({ length: n }, () => startWorker(url)));
  try {
    return await fn();
  } finally {
    ws.forEach((w) => w.kill('SIGKILL'));
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function benchQueue(): Promise<string> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'redis-server not installed (apt-get install redis-server): skipped';
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-queue-'));
  try {
    await new Promise((r) => setTimeout(r, 300));
    const data = loadRecipe(recipe);
    const zoo = (n: number) => withWorkers(url, n, () => timed(() => buildZoo(ZOO8, data, join(dir, `zoo${n}`), {}, { workers: 1, loadData: recipe, queue: { url } })));
    const one = await zoo(1);
    const two = await zoo(2);
    const jobs = Array.from({ length: TINY.count }, (_, index) => ({ cfg: TINY, dir: join(dir, 'tiny-local'), index }));
    const thread = new JobThread();
    const local = await timed(async () => { for (const j of jobs) await thread.run('zoo-model', j, recipe); });
    await thread.terminate();
    const queued = await withWorkers(url, 1, () => timed(() => runJobs('zoo-model', jobs.map((j) => ({ ...j, dir: join(dir, 'tiny-queue') })), { workers: 1, recipe, inProcess: () => null, queue: { url } })));
    return [
      `zoo of 8 smallcnn (2000 images, 1 epoch, pre-pruned 1.2×): 1 worker ${one.toFixed(1)} s, 2 workers ${two.toFixed(1)} s, throughput ×${(one / two).toFixed(2)}`,
      `${TINY.count} tiny jobs: local job thread ${(1000 * local / TINY.count).toFixed(0)} ms/job, queue ${(1000 * queued / TINY.count).toFixed(0)} ms/job, overhead ${(1000 * (queued - local) / TINY.count).toFixed(0)} ms/job`,
    ].join('\n');
  } finally {
    redis.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes of what travels for a ResNet-56 zoo: one data-model checkpoint and one default metanetwork checkpoint. */
export function blobSizes(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mp-sizes-'));
  try {
    const g = buildModel('resnet56', { numClasses: 10, inputShape: [3, 32, 32], width: 1 });
    saveCheckpoint(join(dir, 'r56'), { graph: g, params: initParams(g, 0), metadata: {} });
    saveMetanet(join(dir, 'metanet'), new Metanet(DEFAULT_META_TRAIN.gnn));
    const kb = (f: string) => (statSync(join(dir, f)).size / 1000).toFixed(0);
    return `ResNet-56 checkpoint: ${kb('r56.bin')} kB .bin + ${kb('r56.json')} kB .json; default metanetwork: ${kb('metanet.bin')} kB .bin + ${kb('metanet.json')} kB .json`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(process.argv.includes('--sizes') ? blobSizes() : await benchQueue());
