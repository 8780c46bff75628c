#!/usr/bin/env node
/** The `metaprune` command line: a thin shell over the library (every command is a library call). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../tensor/backends/index.js';
import { parseArgs, formatUsage, UsageError, type ArgSpec, type CommandSpec } from './args.js';
import type { Command, CliContext } from './command.js';
import { trainCommand } from './commands/train.js';
import { modelsCommand, inspectCommand } from './commands/models.js';
import { demoCommand, stageCommands } from './commands/demo.js';
import { pruneCommand } from './commands/prune.js';
import { applyMetanetCommand } from './commands/apply-metanet.js';
import { onnxPruneCommand, onnxInspectCommand } from './commands/onnx.js';
import { reportCommand } from './commands/report.js';
import { studyCommand } from './commands/study.js';
import { workerCommand } from './commands/worker.js';
import { metaPruneCommand } from './commands/meta-prune.js';
import { packageRoot } from '../data/index.js';
import { ConfigError } from './config.js';
import { Interrupted } from '../train/interrupt.js';

/**
 * Ctrl-C while an interruptible command runs: the first asks it to stop after the current step
 * (it saves a checkpoint and exits 130), a second quits at once. Other commands keep Node's
 * default (exit at once; every file is written atomically and a dead writer's lock is stale).
 */
const interrupt = { requested: false };
function onSigint(): void {
  if (!interrupt.requested) {
    interrupt.requested = true;
    process.stderr.write('\nmetaprune: stopping after the current step (Ctrl-C again to quit at once)\n');
    return;
  }
  process.stderr.write('\nmetaprune: interrupted; the last completed checkpoint is intact (use --resume)\n');
  process.exit(130);
}

const COMMANDS: Command[] = [demoCommand, trainCommand, pruneCommand, ...stageCommands, studyCommand, applyMetanetCommand, onnxPruneCommand, onnxInspectCommand, modelsCommand, inspectCommand, reportCommand, workerCommand, metaPruneCommand];

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function cliSpec(): ArgSpec {
  const commands: Record<string, CommandSpec> = {};
  for (const c of COMMANDS) commands[c.name] = c.spec;
  return {
    program: 'metaprune',
    description: 'Structured pruning of CNNs, with Meta Pruning via graph metanetworks.',
    commands,
    flags: {
      version: { type: 'boolean', short: 'V', description: 'print the version' },
      json: { type: 'boolean', description: 'machine-readable JSON output' },
      debug: { type: 'boolean', description: 'print stack traces on errors' },
    },
    epilog: 'Exit codes: 0 ok, 1 failure, 2 usage error.',
  };
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: Pick<CliContext, 'out' | 'err'> = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
}): Promise<number> {
  const spec = cliSpec();
  const ctx: CliContext = { json: false, ...io, argv, interrupted: () => interrupt.requested };
  let debug = argv.includes('--debug');
  try {
    if (argv.includes('--version') || argv.includes('-V')) {
      ctx.out(version());
      return 0;
    }
    const args = parseArgs(argv, spec);
    debug = args.flags['debug'] === true;
    ctx.json = args.flags['json'] === true;
    if (args.help || args.command === undefined) {
      ctx.out(formatUsage(spec, args.command));
      return args.command === undefined && !args.help ? 2 : 0;
    }
    const cmd = COMMANDS.find((c) => c.name === args.command)!;
    if (cmd.interruptible) process.on('SIGINT', onSigint);
    try {
      await cmd.run(args, ctx);
    } finally {
      process.off('SIGINT', onSigint);
    }
    return 0;
  } catch (e) {
    if (e instanceof Interrupted) return 130; // the command said what was saved and how to resume
    if (e instanceof UsageError) {
      ctx.err(`metaprune: ${e.message}`);
      if (e.usage) ctx.err(e.usage);
      return 2;
    }
    if (e instanceof ConfigError) {
      ctx.err(`metaprune: ${e.message}`);
      return 2;
    }
    const err = e as Error;
    ctx.err(`metaprune: ${err.message}`);
    if (debug && err.stack) ctx.err(err.stack);
    return 1;
  }
}

// Run when executed as the bin (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (/(?:^|[\\/])(main\.[jt]s|metaprune)$/.test(invoked)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
