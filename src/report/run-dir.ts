/**
 * The run directory every long command writes: config.json (resolved), metrics.jsonl,
 * summary.json, checkpoints/ and report.html. Files are written atomically. With `claim`, the
 * directory is locked and checked first (io/run-dir.ts); close() releases it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { claimRunDir, type ClaimOptions, type RunLock } from '../io/run-dir.js';
import { MetricsWriter, writeJsonAtomic } from './metrics.js';

/** What a RunDir writes: removed by a `--force` run. */
export const RUN_DIR_OUTPUTS = ['config.json', 'metrics.jsonl', 'summary.json', 'report.html', 'checkpoints', 'run.json'];

export class RunDir {
  readonly metrics: MetricsWriter;
  private readonly lock: RunLock | undefined;

  constructor(readonly dir: string, config: unknown, claim?: Omit<ClaimOptions, 'settings'>) {
    this.lock = claim !== undefined ? claimRunDir(dir, { outputs: RUN_DIR_OUTPUTS, ...claim, settings: config }) : undefined;
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    writeJsonAtomic(join(dir, 'config.json'), config);
    this.metrics = new MetricsWriter(join(dir, 'metrics.jsonl'));
  }

  get checkpoints(): string {
    return join(this.dir, 'checkpoints');
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  log(record: Record<string, unknown>): void {
    this.metrics.write(record);
  }

  writeSummary(summary: unknown): void {
    writeJsonAtomic(join(this.dir, 'summary.json'), summary);
  }

  /** Flushes the metrics and releases the directory's lock (idempotent). */
  close(): void {
    this.metrics.close();
    this.lock?.release();
  }
}
