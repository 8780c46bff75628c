/** `metaprune report DIR`: write DIR/report.html from the run's files. */
import { MetapruneError } from '../../errors.js';
import type { Command } from '../command.js';
import { UsageError } from '../args.js';
import { buildRunReport } from '../../report/run-report.js';
import { getBackend } from '../../tensor/registry.js';
import { existsSync } from 'node:fs';

export const reportCommand: Command = {
  name: 'report',
  spec: {
    description: 'Write a self-contained report.html (charts, tables, config, environment) for a run directory.',
    positionals: [{ name: 'dir', description: 'run directory, e.g. runs/demo' }],
    overrides: false,
    epilog: 'Example:\n  metaprune report runs/demo',
  },
  run(args, ctx) {
    const dir = args.named['dir'];
    if (typeof dir !== 'string') throw new UsageError('missing run directory');
    if (!existsSync(dir)) throw new MetapruneError('io', `${dir}: no such run directory`, { subject: dir, expected: 'a run directory made by a metaprune command' });
    const file = buildRunReport(dir, getBackend());
    ctx.out(ctx.json ? JSON.stringify({ report: file }) : `wrote ${file}`);
  },
};
