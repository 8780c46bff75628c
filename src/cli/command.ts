/** What every CLI command provides: its argument spec and a run function. */
import type { CommandSpec, ParsedArgs } from './args.js';

export interface CliContext {
  /** Print machine-readable JSON instead of human text. */
  json: boolean;
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  readonly name: string;
  readonly spec: CommandSpec;
  run(args: ParsedArgs, ctx: CliContext): Promise<void> | void;
}
