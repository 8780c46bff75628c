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

export interface JobOptions<I, R> {
  workers: number;
  recipe: DataRecipe;
  /** The same job in this thread (used when workers ≤ 1). */
  inProcess(input: I): R;
  onResult?(result: R, input: I): void;
  onStart?(input: I): void;
}

/**
 * Runs a job for every input, on `workers` worker threads (each single-threaded) or in this
 * thread. `onResult` is called in completion order; the first failure rejects (naming the input).
 */
export async function runJobs<I, R>(kind: JobKind, inputs: I[], o: JobOptions<I, R>): Promise<R[]> {
  const results: R[] = [];
  if (o.workers <= 1 || inputs.length <= 1) {
    for (const input of inputs) {
      o.onStart?.(input);
      const r = o.inProcess(input);
      results.push(r);
      o.onResult?.(r, input);
    }
    return results;
  }
  await new Promise<void>((resolve, reject) => {
    const queue = [...inputs];
    let running = 0;
    let failed = false;
    const pool: Worker[] = [];
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      pool.forEach((p) => void p.terminate());
      reject(e);
    };
    const next = (w: Worker) => {
      const input = queue.shift();
      if (input === undefined) {
        void w.terminate();
        if (--running === 0 && !failed) resolve();
        return;
      }
      o.onStart?.(input);
      w.once('message', (m: { ok: true; result: R } | { ok: false; error: string }) => {
        if (failed) return;
        if (!m.ok) return fail(new MetapruneError('metanet', `${kind} job failed: ${m.error}`));
        results.push(m.result);
        o.onResult?.(m.result, input);
        next(w);
      });
      w.postMessage({ kind, input, data: o.recipe });
    };
    const env = { ...process.env, METAPRUNE_THREADS: '1' };
    for (let i = 0; i < Math.min(o.workers, inputs.length); i++) {
      const w = FROM_SOURCE
        // Running from .ts sources (tests, tsx): register tsx inside the worker before importing it.
        ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl().href)}); });`, { eval: true, env })
        : new Worker(workerUrl(), { env });
      w.on('error', fail);
      pool.push(w);
      running++;
      next(w);
    }
  });
  return results;
}
