/** `metaprune worker --queue URL`: run pipeline jobs from a Redis queue until stopped. */
import type { Command } from '../command.js';
import { UsageError, flagNumber, flagString } from '../args.js';
import { defaultWorkers } from '../../meta/workers.js';
import { startQueueWorker } from '../../meta/queue/worker.js';

export const workerCommand: Command = {
  name: 'worker',
  spec: {
    description: 'Run zoo / selection / comparison jobs taken from a Redis job queue (BullMQ) until SIGINT or SIGTERM.',
    flags: {
      queue: { type: 'string', valueName: 'URL', description: 'Redis URL of the queue, e.g. redis://10.0.0.5:6379' },
      concurrency: { type: 'number', description: 'jobs at once, each in a single-threaded worker thread (default: METAPRUNE_WORKERS or the number of cores)' },
      'lock-ms': { type: 'number', default: 30000, description: 'a job whose worker has been silent this long (crashed) goes to another worker' },
    },
    overrides: false,
    epilog: 'Examples:\n  metaprune worker --queue redis://10.0.0.5:6379\n  metaprune demo --queue redis://10.0.0.5:6379   (the coordinator, on any machine)\n\nThe first SIGINT/SIGTERM finishes the running jobs and exits; a second one hands them back to the queue at once.',
  },
  async run(args, ctx) {
    const url = flagString(args, 'queue');
    if (url === undefined) throw new UsageError('worker needs --queue redis://HOST:PORT');
    const concurrency = flagNumber(args, 'concurrency') ?? defaultWorkers();
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a positive integer, got ${concurrency}`);
    const worker = await startQueueWorker({
      url, concurrency, lockMs: flagNumber(args, 'lock-ms'),
      onEvent: (e) => ctx.err(`worker: ${e.kind} ${e.jobKind} job ${e.job}${e.detail ? `: ${e.detail}` : ''}`),
    });
    ctx.err(`worker: taking jobs from ${url} (${concurrency} at once); Ctrl-C finishes the running jobs, a second Ctrl-C hands them back`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = () => {
        const handBack = stopping;
        stopping = true;
        ctx.err(handBack ? 'worker: handing the running jobs back to the queue' : 'worker: finishing the running jobs (signal again to hand them back)');
        // after a hand-back the process exits: the aborted jobs' threads are gone
        void worker.close(handBack).then(() => (handBack ? process.exit(130) : resolve()));
      };
      // replaces the CLI's exit-at-once handler: a worker stops between jobs
      process.removeAllListeners('SIGINT');
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    ctx.err('worker: stopped');
  },
};
