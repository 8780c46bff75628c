/**
 * `metaprune worker`: takes jobs from the queue and runs each in a worker thread (so this
 * thread stays free to renew BullMQ's job locks), on copies of its input files under a scratch
 * root; the files it writes and its result go back as blobs. Closing finishes the running jobs;
 * closing with `handBack` returns them to the queue at once for another worker.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { parseDataSpec } from '../../train/run.js';
import { jobFiles } from '../job-files.js';
import { JobThread, type DataRecipe } from '../workers.js';
import { connectRedis, QUEUE_NAME } from './connection.js';
import { listFiles, materialize, putBlob, type BlobFiles } from './blobs.js';
import type { QueuedJobData, QueuedJobResult } from './coordinator.js';
import { MetapruneError } from '../../errors.js';

export interface QueueWorkerOptions {
  url: string;
  /** Jobs run at once (each in its own single-threaded worker thread). */
  concurrency: number;
  /** How long a job stays with a worker that stopped renewing its lock (crashed) before it is retried elsewhere. */
  lockMs?: number;
  onEvent?(e: { kind: 'start' | 'done' | 'failed'; job: string; jobKind: string; detail?: string }): void;
}

export interface QueueWorker {
  /** Stops taking jobs; running jobs finish first, or with handBack go back to the queue now. */
  close(handBack?: boolean): Promise<void>;
}

/** A dataset on disk is not sent: it must exist on this machine at the same path. */
function assertDataHere(recipe: DataRecipe): void {
  const spec = parseDataSpec(recipe.spec);
  if (typeof spec !== 'string' && 'dir' in spec && !existsSync(spec.dir)) {
    throw new UnrecoverableError(`data '${recipe.spec}': ${spec.dir} does not exist on worker ${hostname()}; a dataset on disk must exist on every worker at the same path (only the embedded fashion-mnist-14 travels by name)`);
  }
}

async function uploadDir(redis: Redis, dir: string, inputs: ReadonlySet<string>): Promise<BlobFiles> {
  const out: BlobFiles = {};
  for (const rel of listFiles(dir, inputs)) out[rel] = await putBlob(redis, readFileSync(join(dir, rel)));
  return out;
}

/** Strips the scratch root from every string in a result (a result names coordinator paths). */
function unrebase(result: unknown, root: string): unknown {
  if (result === undefined) return result;
  const quoted = JSON.stringify(root).slice(1, -1);
  return JSON.parse(JSON.stringify(result).split(quoted).join('')) as unknown;
}

export async function startQueueWorker(o: QueueWorkerOptions): Promise<QueueWorker> {
  const redis = await connectRedis(o.url);
  const workerConnection = redis.duplicate();
  const cacheDir = join(tmpdir(), `metaprune-blobs-${process.getuid?.() ?? 'user'}`);
  const idle: JobThread[] = [];
  const threads = new Set<JobThread>();
  const newThread = () => { const t = new JobThread(); threads.add(t); return t; };
  const running = new Map<string, { job: Job<QueuedJobData, QueuedJobResult>; token?: string }>();
  const lockMs = o.lockMs ?? 30000;
  let handingBack = false;

  const processor = async (job: Job<QueuedJobData, QueuedJobResult>, token?: string): Promise<QueuedJobResult> => {
    const { kind, recipe, files } = job.data;
    running.set(job.id!, { job, token });
    o.onEvent?.({ kind: 'start', job: job.id!, jobKind: kind });
    const scratch = mkdtempSync(join(tmpdir(), 'metaprune-job-'));
    let thread = idle.pop() ?? newThread();
    try {
      const spec = jobFiles<unknown>(kind);
      assertDataHere(recipe);
      await materialize(redis, files, scratch, cacheDir);
      const input = spec.rebase(job.data.input, (p) => join(scratch, p));
      let result: unknown;
      try {
        result = await thread.run(kind, input, recipe);
      } catch (e) {
        threads.delete(thread);
        void thread.terminate();
        thread = newThread();
        throw new UnrecoverableError((e as Error).message);
      }
      const out = spec.writes(input);
      const written = out === null ? {} : await uploadDir(redis, out, new Set(Object.keys(files).map((p) => join(scratch, p))));
      o.onEvent?.({ kind: 'done', job: job.id!, jobKind: kind });
      return { result: unrebase(result, scratch), files: written };
    } catch (e) {
      if (handingBack) throw new MetapruneError('metanet', 'handed back to the queue');
      o.onEvent?.({ kind: 'failed', job: job.id!, jobKind: kind, detail: (e as Error).message.split('\n')[0] });
      throw e;
    } finally {
      running.delete(job.id!);
      idle.push(thread);
      rmSync(scratch, { recursive: true, force: true });
    }
  };

  const worker = new Worker<QueuedJobData, QueuedJobResult>(QUEUE_NAME, processor, {
    connection: workerConnection, concurrency: o.concurrency, name: `${hostname()}:${process.pid}`,
    lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 2,
  });
  worker.on('error', () => { /* connection hiccups: BullMQ reconnects */ });
  await worker.waitUntilReady();

  return {
    async close(handBack = false) {
      if (handBack) {
        handingBack = true;
        await Promise.all([...running.values()].map(({ job, token }) => job.moveToWait(token).catch(() => undefined)));
        await Promise.all([...threads].map((t) => t.terminate()));
        await worker.close(true);
      } else {
        await worker.close();
      }
      await Promise.all([...threads].map((t) => t.terminate()));
      workerConnection.disconnect();
      redis.disconnect();
    },
  };
}
