/**
 * The coordinator side of the job queue: runJobs(..., { queue }) enqueues a stage's jobs on
 * BullMQ, waits for `metaprune worker` processes to run them, writes what they wrote into the
 * run directory (atomically) and hands results to the stage as the local paths do.
 *
 * Job ids are content addresses (kind + data recipe + input with its index + input file
 * hashes), so a restarted coordinator re-adds the same ids, which BullMQ keeps, and resumes
 * waiting on jobs still queued, running or already done. Jobs do not retry on error (a
 * deterministic failure fails the run with the worker's message); a worker that dies mid-job
 * is detected by BullMQ's stalled-job check and its job runs again elsewhere.
 */
import { resolve, join } from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { writeFileAtomic } from '../../io/atomic.js';
import { jobFiles } from '../job-files.js';
import type { DataRecipe, JobKind, JobOptions, JobQueueTarget } from '../workers.js';
import { connectRedis, BLOB_PREFIX, QUEUE_NAME } from './connection.js';
import { getBlob, packFiles, sha256, MissingBlobError, type BlobFiles } from './blobs.js';
import { MetapruneError } from '../../errors.js';

/** What travels to a worker: everything a job needs, paths as on the coordinator. */
export interface QueuedJobData {
  kind: JobKind;
  input: unknown;
  recipe: DataRecipe;
  /** Files the job reads: coordinator path → blob hash. */
  files: BlobFiles;
}

/** What comes back: the job's result and the files it wrote (relative to its output directory). */
export interface QueuedJobResult {
  result: unknown;
  files: BlobFiles;
}

const KEEP_SECONDS = 7 * 24 * 3600;

/** Writes a finished job's files (sorted: a checkpoint's .bin lands before its .json) under dir. */
async function land(redis: Redis, dir: string, files: BlobFiles): Promise<void> {
  for (const rel of Object.keys(files).sort()) writeFileAtomic(join(dir, rel), await getBlob(redis, files[rel]));
}

export async function runQueuedJobs<I, R>(kind: JobKind, inputs: I[], o: JobOptions<I, R>, target: JobQueueTarget): Promise<R[]> {
  const redis = await connectRedis(target.url);
  const queue = new Queue<QueuedJobData, QueuedJobResult>(QUEUE_NAME, { connection: redis });
  const eventsConnection = redis.duplicate();
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
  const spec = jobFiles<I>(kind);
  const jobs: { id: string; input: I; job?: Job<QueuedJobData, QueuedJobResult> }[] = [];
  const results: R[] = [];
  const running = new Set<string>();
  const progress = async () => {
    if (!target.onProgress) return;
    const workers = await queue.getWorkersCount().catch(() => -1);
    target.onProgress({ done: results.length, total: jobs.length, active: running.size, workers });
  };
  try {
    // every waiting job listens on the queue and the events (one listener each)
    queue.setMaxListeners(inputs.length + 10);
    events.setMaxListeners(2 * inputs.length + 10);
    await events.waitUntilReady();
    const datas: QueuedJobData[] = [];
    for (const input of inputs) {
      const local = spec.rebase(input, (p) => resolve(p));
      const data: QueuedJobData = { kind, input: local, recipe: o.recipe, files: await packFiles(redis, spec.reads(local)) };
      datas.push(data);
      jobs.push({ id: `${kind}-${sha256(JSON.stringify(data)).slice(0, 32)}`, input });
    }
    const byId = new Map(jobs.map((j) => [j.id, j]));
    events.on('active', ({ jobId }) => {
      const j = byId.get(jobId);
      if (j === undefined) return;
      running.add(jobId);
      o.onStart?.(j.input);
      void progress();
    });
    await Promise.all(jobs.map(async (j, i) => {
      // an id BullMQ already has (a restarted coordinator) is kept as it is, whatever its state
      j.job = await queue.add(kind, datas[i], { jobId: j.id, attempts: 1, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS } });
      if ((await j.job.getState()) === 'failed') await j.job.retry('failed');
    }));
    await progress();
    await Promise.all(jobs.map(async (j) => {
      const dir = spec.writes(j.input);
      let out: QueuedJobResult;
      for (;;) {
        try {
          out = await j.job!.waitUntilFinished(events);
        } catch (e) {
          throw new MetapruneError('metanet', `${kind} job failed on a queue worker: ${(e as Error).message}`);
        }
        try {
          if (dir !== null) await land(redis, dir, out.files);
          break;
        } catch (e) {
          // a job done long ago whose files are gone (expired, or landed by an earlier coordinator): run it again
          if (!(e instanceof MissingBlobError)) throw e;
          await j.job!.retry('completed');
        }
      }
      const r = out.result as R;
      results.push(r);
      running.delete(j.id);
      o.onResult?.(r, j.input);
      // the files are in the run directory now (and recorded by onResult): free their Redis memory
      const hashes = Object.values(out.files);
      if (hashes.length > 0) await redis.del(...hashes.map((h) => BLOB_PREFIX + h));
      void progress();
    }));
    // done: drop the jobs (their results are with the stage)
    for (const j of jobs) await (await queue.getJob(j.id))?.remove().catch(() => undefined);
    return results;
  } catch (e) {
    // a failed run takes its jobs that have not started off the queue (running ones finish or fail)
    await Promise.all(jobs.map(async (j) => { if (j.job && (await j.job.getState().catch(() => '')) === 'waiting') await j.job.remove().catch(() => undefined); }));
    throw e;
  } finally {
    await events.close();
    await queue.close();
    eventsConnection.disconnect();
    redis.disconnect();
  }
}
