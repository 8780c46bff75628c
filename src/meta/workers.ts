/**
 * Coarse-grained parallelism for the pipeline: independent jobs (e.g. training one data model)
 * run in worker threads, each single-threaded, so two cores train two models at once.
 * Workers rebuild their data from a recipe (loading the embedded set takes a fraction of a second).
 */
import { Worker } from 'node:worker_threads';
import { MetapruneError } from '../errors.js';
import { availableParallelism } from 'node:os';
import { split, loadDataset, type DatasetSplits } from '../data/index.js';
import { parseDataSpec } from '../train/run.js';
import { checkpointStop, Interrupted } from '../train/interrupt.js';

/** How to rebuild the pipeline's data split in another thread. */
export interface DataRecipe {
  spec: string;
  valImages: number;
  splitSeed: number;
}

export function loadRecipe(r: DataRecipe): DatasetSplits & { val: DatasetSplits['train'] } {
  const data = loadDataset(parseDataSpec(r.spec));
  const { train, heldOut } = split(data.train, r.valImages, r.splitSeed);
  return { train, test: data.test, val: heldOut };
}

/** Default worker count: METAPRUNE_WORKERS, else the number of cores. */
export function defaultWorkers(): number {
  const env = Number(process.env.METAPRUNE_WORKERS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');

function workerUrl(): URL {
  // Under tsx the sources are .ts (and the worker needs the tsx loader too); compiled, they are .js.
  return new URL(`./job-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);
}

export type JobKind = 'zoo-model' | 'select' | 'compare';

/** Where jobs run when not in this process: a Redis URL (BullMQ) and an optional progress hook. */
export interface JobQueueTarget {
  url: string;
  onProgress?(p: QueueProgress): void;
}

export interface QueueProgress {
  done: number;
  total: number;
  active: number;
  /** Workers currently connected to the queue. */
  workers: number;
}

export interface JobOptions<I, R> {
  workers: number;
  recipe: DataRecipe;
  /** The same job in this thread (used when workers ≤ 1). */
  inProcess(input: I): R;
  onResult?(result: R, input: I): void;
  onStart?(input: I): void;
  /** Run the jobs on `metaprune worker` processes through this queue instead (workers is then ignored). */
  queue?: JobQueueTarget;
  /** Polled between jobs (and every 200 ms with workers): when true, stop (unfinished jobs are dropped) and throw Interrupted. */
  stop?(): boolean;
}

/** One worker thread (single-threaded kernels) running jobs one at a time; see job-worker.ts. */
export class JobThread {
  private readonly worker: Worker;
  private pending: { resolve(r: unknown): void; reject(e: Error): void } | null = null;

  constructor() {
    const env = { ...process.env, METAPRUNE_THREADS: '1' };
    this.worker = FROM_SOURCE
      // Running from .ts sources (tests, tsx): register tsx inside the worker before importing it.
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl().href)}); });`, { eval: true, env })
      : new Worker(workerUrl(), { env });
    this.worker.on('message', (m: { ok: true; result: unknown } | { ok: false; error: string }) => {
      const p = this.pending;
      this.pending = null;
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new MetapruneError('metanet', m.error));
    });
    this.worker.on('error', (e) => {
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    });
    this.worker.on('exit', (code) => {
      const p = this.pending;
      this.pending = null;
      p?.reject(new MetapruneError('engine', `job thread exited (code ${code}) before the job finished`));
    });
  }

  /** Runs one job; rejects with the job's error (its stack) or the thread's crash. */
  run<R>(kind: JobKind, input: unknown, recipe: DataRecipe): Promise<R> {
    if (this.pending) throw new MetapruneError('engine', 'JobThread: one job at a time');
    return new Promise<R>((resolve, reject) => {
      this.pending = { resolve: resolve as (r: unknown) => void, reject };
      this.worker.postMessage({ kind, input, data: recipe });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Runs a job for every input, on `workers` worker threads (each single-threaded), in this
 * thread, or through a job queue (`queue`). `onResult` is called in completion order; the first
 * failure rejects (naming the input).
 */
export async function runJobs<I, R>(kind: JobKind, inputs: I[], o: JobOptions<I, R>): Promise<R[]> {
  if (o.queue !== undefined && inputs.length > 0) {
    // loaded only when used: local runs never load bullmq
    const { runQueuedJobs } = await import('./queue/coordinator.js');
    return runQueuedJobs(kind, inputs, o, o.queue);
  }
  const results: R[] = [];
  const stopped = () => new Interrupted(`${kind}: stopped after ${results.length} of ${inputs.length} jobs; re-run the same command to continue`);
  if (o.workers <= 1 || inputs.length <= 1) {
    for (const input of inputs) {
      if (results.length > 0) await checkpointStop(o.stop, () => stopped().message);
      o.onStart?.(input);
      const r = o.inProcess(input);
      results.push(r);
      o.onResult?.(r, input);
    }
    return results;
  }
  const queue = [...inputs];
  const pool = Array.from({ length: Math.min(o.workers, inputs.length) }, () => new JobThread());
  let failed = false;
  let interrupted: Interrupted | null = null;
  // a stop request terminates the threads; their running jobs are dropped (re-running resumes)
  const poll = o.stop === undefined ? undefined : setInterval(() => {
    if (failed || !o.stop!()) return;
    interrupted = stopped();
    failed = true;
    pool.forEach((t) => void t.terminate());
  }, 200);
  const drain = async (t: JobThread): Promise<void> => {
    for (let input = queue.shift(); input !== undefined && !failed; input = queue.shift()) {
      o.onStart?.(input);
      let r: R;
      try {
        r = await t.run<R>(kind, input, o.recipe);
      } catch (e) {
        throw new MetapruneError('metanet', `${kind} job failed: ${(e as Error).message}`);
      }
      if (failed) return;
      results.push(r);
      o.onResult?.(r, input);
    }
  };
  try {
    await Promise.all(pool.map((t) => drain(t).catch((e: Error) => { failed = true; throw e; })));
  } catch (e) {
    throw interrupted ?? e;
  } finally {
    clearInterval(poll);
    await Promise.all(pool.map((t) => t.terminate()));
  }
  if (interrupted !== null) throw interrupted as Interrupted;
  return results;
}
