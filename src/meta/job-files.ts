/**
 * The files each job kind reads and writes, named by the paths its input carries. Jobs in this
 * process or in worker threads use the paths as they are; a job sent through a queue to another
 * machine (no shared filesystem) ships the files it reads as content-addressed blobs, runs on
 * copies under a scratch root, and ships back what it wrote (see queue/blobs.ts).
 * A new job kind adds its entry here and its runner in job-worker.ts.
 */
import { join } from 'node:path';
import type { ZooConfig } from './zoo.js';
import type { SelectJob } from './select.js';
import type { CompareJob } from './compare.js';
import type { JobKind } from './workers.js';
import { MetapruneError } from '../errors.js';

export interface ZooModelJob {
  cfg: ZooConfig;
  /** Zoo directory the model's checkpoint is written into. */
  dir: string;
  index: number;
}

export interface JobFiles<I> {
  /** Files the job reads. */
  reads(input: I): string[];
  /** The directory the job writes its files into (none: it writes nothing). */
  writes(input: I): string | null;
  /** The input with every path it carries mapped through f. */
  rebase(input: I, f: (path: string) => string): I;
}

/** A checkpoint path (without extension) is a json + bin pair (io/tensor-file.ts). */
const checkpointFiles = (path: string): string[] => [`${path}.json`, `${path}.bin`];

const zooModel: JobFiles<ZooModelJob> = {
  reads: () => [],
  writes: (i) => i.dir,
  rebase: (i, f) => ({ ...i, dir: f(i.dir) }),
};

const select: JobFiles<SelectJob> = {
  reads: (i) => [
    ...i.entries.flatMap((e) => checkpointFiles(join(i.zooDir, e.path))),
    ...(i.metanetPath === null ? [] : checkpointFiles(i.metanetPath)),
  ],
  writes: () => null,
  rebase: (i, f) => ({ ...i, zooDir: f(i.zooDir), metanetPath: i.metanetPath === null ? null : f(i.metanetPath) }),
};

const compare: JobFiles<CompareJob> = {
  reads: (i) => [...checkpointFiles(join(i.zooDir, i.entry.path)), ...(i.arm === 'metanet' ? checkpointFiles(i.metanetPath) : [])],
  writes: () => null,
  rebase: (i, f) => ({ ...i, zooDir: f(i.zooDir), metanetPath: f(i.metanetPath) }),
};

export const JOB_FILES: { [K in JobKind]: JobFiles<never> } = {
  'zoo-model': zooModel as JobFiles<never>,
  select: select as JobFiles<never>,
  compare: compare as JobFiles<never>,
};

/** The file declaration of a job kind, typed for its input. */
export function jobFiles<I>(kind: JobKind): JobFiles<I> {
  const f = JOB_FILES[kind] as unknown as JobFiles<I> | undefined;
  if (f === undefined) throw new MetapruneError('metanet', `unknown job kind '${kind}' (known: ${Object.keys(JOB_FILES).join(', ')})`);
  return f;
}
