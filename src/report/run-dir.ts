/**
 * The run directory every long command writes: config.json (resolved), metrics.jsonl,
 * summary.json, checkpoints/ and report.html. Files are written atomically.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsWriter, writeJsonAtomic } from './metrics.js';

export class RunDir {
  readonly metrics: MetricsWriter;

  constructor(readonly dir: string, config: unknown) {
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

  close(): void {
    this.metrics.close();
  }
}
