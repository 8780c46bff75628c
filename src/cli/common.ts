/** Helpers shared by CLI commands: config resolution from --config + flags + key=value overrides. */
import { flagString, type FlagSpec, type ParsedArgs } from './args.js';
import { loadConfig } from './config.js';

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
  return loadConfig(defaults, flagString(args, 'config'), [...sugar, ...args.overrides]);
}
