/** Worker-thread entry: runs pipeline jobs (see workers.ts) with data rebuilt from a recipe. */
import { parentPort } from 'node:worker_threads';
import '../tensor/backends/index.js';
import { trainDataModel, type ZooConfig } from './zoo.js';
import { runSelectJob, type SelectJob } from './select.js';
import { runCompareJob, type CompareJob } from './compare.js';
import { loadRecipe, type DataRecipe, type JobKind } from './workers.js';

type Data = ReturnType<typeof loadRecipe>;

const JOBS: Record<JobKind, (input: never, data: Data) => unknown> = {
  'zoo-model': (i: { cfg: ZooConfig; dir: string; index: number }, d) => trainDataModel(i.cfg, d, i.dir, i.index),
  select: (i: SelectJob, d) => runSelectJob(i, d.train, d.val),
  compare: (i: CompareJob, d) => runCompareJob(i, d.train, d.test, d.val),
};

let cached: { key: string; data: Data } | null = null;

parentPort?.on('message', (m: { kind: JobKind; input: never; data: DataRecipe }) => {
  try {
    const key = JSON.stringify(m.data);
    if (cached === null || cached.key !== key) cached = { key, data: loadRecipe(m.data) };
    parentPort!.postMessage({ ok: true, result: JOBS[m.kind](m.input, cached.data) });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).stack ?? String(e) });
  }
});
