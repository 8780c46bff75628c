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
import { reportError } from './errors.js';

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
    epilog: 'Exit codes: 0 ok, 1 failure, 2 usage or value error. With --json, errors are {"error": {...}} on stdout.',
  };
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], io: Pick<CliContext, 'out' | 'err'> = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
}): Promise<number> {
  const spec = cliSpec();
  // Known before parsing, so that a parse error is reported in the requested form too.
  const ctx: CliContext = { json: argv.includes('--json'), ...io, argv, interrupted: () => interrupt.requested };
  let debug = argv.includes('--debug');
  // The command the user meant (for the --help pointer of a usage error), even if parsing fails.
  const named = argv.find((a) => Object.prototype.hasOwnProperty.call(spec.commands ?? {}, a));
  const hint = `Run 'metaprune ${named !== undefined ? `${named} ` : ''}--help' for usage.`;
  try {
    if (argv.includes('--version') || argv.includes('-V')) {
      ctx.out(ctx.json ? JSON.stringify({ version: version() }) : version());
      return 0;
    }
    // `metaprune help [CMD]` is `metaprune [CMD] --help`.
    if (argv[0] === 'help') {
      const topic = argv[1];
      if (topic !== undefined && !Object.prototype.hasOwnProperty.call(spec.commands ?? {}, topic)) {
        throw new UsageError(`help: unknown command '${topic}'; commands: ${Object.keys(spec.commands ?? {}).join(', ')}`);
      }
      ctx.out(formatUsage(spec, topic));
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
    return reportError(e, ctx, debug, hint);
  }
}

// Run when executed as the bin (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (/(?:^|[\\/])(main\.[jt]s|metaprune)$/.test(invoked)) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
