/** What every CLI command provides: its argument spec and a run function. */
import type { CommandSpec, ParsedArgs } from './args.js';

export interface CliContext {
  /** Print machine-readable JSON instead of human text. */
  json: boolean;
  out(line: string): void;
  err(line: string): void;
  /** The command line as given (e.g. to print how to resume). */
  argv?: readonly string[];
  /** True once the user asked to stop (Ctrl-C); interruptible commands poll it between steps. */
  interrupted?(): boolean;
}

export interface Command {
  readonly name: string;
  readonly spec: CommandSpec;
  /** Polls ctx.interrupted() and stops cleanly: a first Ctrl-C asks it to stop instead of exiting. */
  readonly interruptible?: boolean;
  run(args: ParsedArgs, ctx: CliContext): Promise<void> | void;
}
