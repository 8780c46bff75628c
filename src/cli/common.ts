/** Helpers shared by CLI commands: config resolution from --config + flags + key=value overrides. */
import { flagString, type FlagSpec, type ParsedArgs } from './args.js';
import { ConfigError, loadConfig } from './config.js';
import { CONFIG_RULES } from './config-rules.js';

/** --queue of every command that runs pipeline jobs (the config key `queue`). */
export const QUEUE_FLAG: Record<string, FlagSpec> = {
  queue: { type: 'string', valueName: 'URL', description: 'run the independent jobs on `metaprune worker` processes through Redis at URL (redis://HOST:PORT)' },
};

export const CONFIG_FLAG: Record<string, FlagSpec> = {
  config: { type: 'string', short: 'c', valueName: 'FILE', description: 'JSON or YAML config file (key=value overrides apply on top)' },
};

/**
 * Resolves a command's config: defaults ← --config file ← flag sugar (e.g. --epochs 3 is
 * train.epochs=3) ← key=value overrides. Every override is validated against the defaults' keys.
 */
export function resolveConfig<T extends object>(defaults: T, args: ParsedArgs, flagToKey: Record<string, string> = {}): T {
  const sugar: string[] = [];
  for (const [flag, key] of Object.entries(flagToKey)) {
    const v = args.flags[flag];
    if (v === undefined || v === false) continue;
    sugar.push(`${key}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`);
  }
  try {
    return loadConfig(defaults, flagString(args, 'config'), [...sugar, ...args.overrides], CONFIG_RULES);
  } catch (e) {
    // Name the flag the user typed when the bad value came from one (e.g. --epochs 0).
    const flag = e instanceof ConfigError ? Object.entries(flagToKey).find(([f, k]) => k === e.key && args.flags[f] !== undefined)?.[0] : undefined;
    if (flag !== undefined && e instanceof ConfigError) throw new ConfigError(`option --${flag}: ${e.message}`, { key: e.key });
    throw e;
  }
}

/** A warning when pruning landed far from its target speed-up (more than 10 % above it), else undefined. */
export function speedupWarning(target: number, achieved: number): string | undefined {
  if (achieved <= target * 1.1) return undefined;
  return `the achieved speed-up ${achieved.toFixed(2)}× is far above the target ${target}× (channel rounding or the minimum channel counts forced larger steps)`;
}
