/**
 * A tiny argv parser for `metaprune <command> [options] [positionals] [key=value overrides]`.
 *
 * Supported syntax:
 *   --flag                boolean flag (also --flag=true|false, and --no-flag for false)
 *   --key value, --key=value   string / number option (repeatable when `multiple: true`)
 *   -k value, -k=value, -abc   short aliases (clustered only for boolean flags)
 *   key=value             config overrides, collected separately (dotted keys allowed)
 *   --                    everything after is positional
 *   --help, -h            sets `help: true` (never an error)
 *
 * Problems (unknown command/flag, missing value, bad number, wrong positional count) throw a
 * {@link UsageError}, whose `exitCode` is 2 and whose `usage` holds the relevant help text.
 */

import { MetapruneError } from '../errors.js';
import { editDistance } from './suggest.js';
import { constraintMessage, describeConstraint, satisfies, type Constraint } from './constraints.js';

export type FlagType = 'boolean' | 'string' | 'number';
export type FlagValue = boolean | string | number | string[] | number[] | undefined;

export interface FlagSpec {
  readonly type: FlagType;
  /** Single-letter alias, without the dash. */
  readonly short?: string;
  readonly description?: string;
  /** Placeholder in help, e.g. FILE. */
  readonly valueName?: string;
  readonly default?: boolean | string | number;
  /** Allow repeating; the value becomes an array (string/number flags only). */
  readonly multiple?: boolean;
  /** Range / whole numbers / choices, checked while parsing (each value of a repeatable flag). */
  readonly check?: Constraint;
}

export interface PositionalSpec {
  readonly name: string;
  readonly description?: string;
  /** Default true. */
  readonly required?: boolean;
  /** Collects all remaining positionals (must be last). */
  readonly variadic?: boolean;
}

export interface CommandSpec {
  readonly description?: string;
  readonly flags?: Readonly<Record<string, FlagSpec>>;
  readonly positionals?: ReadonlyArray<PositionalSpec>;
  /** Whether key=value overrides are accepted (default true). */
  readonly overrides?: boolean;
  /** Extra text appended to the command's help (e.g. describeConfig() output). */
  readonly epilog?: string;
}

export interface ArgSpec {
  /** Program name for usage text, e.g. "metaprune". */
  readonly program: string;
  readonly description?: string;
  /** Subcommands. When present, the first non-option argument selects one. */
  readonly commands?: Readonly<Record<string, CommandSpec>>;
  /** Flags valid everywhere (before or after the command); also the flags of a command-less program. */
  readonly flags?: Readonly<Record<string, FlagSpec>>;
  /** Positionals of a command-less program. */
  readonly positionals?: ReadonlyArray<PositionalSpec>;
  readonly overrides?: boolean;
  readonly epilog?: string;
}

export interface ParsedArgs {
  /** The selected subcommand (undefined when the spec has none, or with bare --help). */
  readonly command: string | undefined;
  /** Flag values by long name; booleans default to false, others to their default or undefined. */
  readonly flags: Readonly<Record<string, FlagValue>>;
  /** Positionals by declared name (variadic → string[]). */
  readonly named: Readonly<Record<string, string | string[] | undefined>>;
  readonly positionals: readonly string[];
  /** key=value overrides in order of appearance. */
  readonly overrides: readonly string[];
  readonly help: boolean;
}

/** Bad command line. Callers should print `message` and `usage` to stderr and exit with `exitCode` (2). */
export class UsageError extends MetapruneError {
  readonly exitCode = 2;
  readonly usage: string;
  constructor(message: string, usage = '') {
    super('usage', message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

const OVERRIDE_RE = /^[A-Za-z_][\w-]*(?:\.[A-Za-z0-9_][\w-]*)*=/;
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function suggest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(word, o);
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function flagLine(name: string, f: FlagSpec): string {
  const short = f.short ? `-${f.short}, ` : '    ';
  const val = f.type === 'boolean' ? '' : ` <${f.valueName ?? (f.type === 'number' ? 'n' : 'value')}>`;
  const left = `  ${short}--${name}${val}`;
  const def = f.default !== undefined && f.type !== 'boolean' ? ` (default: ${String(f.default)})` : '';
  const rep = f.multiple ? ' (repeatable)' : '';
  const range = f.check && f.check.choices === undefined ? ` [${describeConstraint(f.check)}]` : '';
  return `${left.padEnd(30)} ${f.description ?? ''}${def}${rep}${range}`.trimEnd();
}

/** Help text for the whole program, or for one command. */
export function formatUsage(spec: ArgSpec, command?: string): string {
  const lines: string[] = [];
  const global = spec.flags ?? {};
  const cmd = command !== undefined ? spec.commands?.[command] : undefined;
  if (spec.commands && cmd === undefined) {
    lines.push(`Usage: ${spec.program} <command> [options] [key=value ...]`);
    if (spec.description) lines.push('', spec.description);
    lines.push('', 'Commands:');
    for (const [name, c] of Object.entries(spec.commands)) lines.push(`  ${name.padEnd(16)} ${c.description ?? ''}`.trimEnd());
    if (spec.flags && Object.keys(spec.flags).length > 0) {
      lines.push('', 'Global options:');
      for (const [name, f] of Object.entries(spec.flags)) lines.push(flagLine(name, f));
    }
    lines.push('', `Run '${spec.program} <command> --help' for the options of a command.`);
    if (spec.epilog) lines.push('', spec.epilog);
  } else {
    const c: CommandSpec = cmd ?? spec;
    const pos = (c.positionals ?? [])
      .map((p) => {
        const n = p.variadic ? `${p.name}...` : p.name;
        return p.required === false ? `[${n}]` : `<${n}>`;
      })
      .join(' ');
    const ov = c.overrides !== false ? ' [key=value ...]' : '';
    lines.push(`Usage: ${spec.program}${command !== undefined ? ` ${command}` : ''} [options]${pos ? ` ${pos}` : ''}${ov}`);
    if (c.description) lines.push('', c.description);
    if (c.positionals && c.positionals.length > 0) {
      lines.push('', 'Arguments:');
      for (const p of c.positionals) lines.push(`  ${p.name.padEnd(28)} ${p.description ?? ''}`.trimEnd());
    }
    const own = cmd ? (cmd.flags ?? {}) : {};
    const all = { ...global, ...own };
    lines.push('', 'Options:');
    for (const [name, f] of Object.entries(all)) lines.push(flagLine(name, f));
    lines.push(`${'  -h, --help'.padEnd(30)} Show this help`);
    if (c.overrides !== false) lines.push('', 'Config overrides: key=value with dotted keys (e.g. train.epochs=20 for train, meta.gnn.eps=0.03 for demo)');
    if (c.epilog) lines.push('', c.epilog);
  }
  return lines.join('\n');
}

/** Parses `argv` (without the node executable and script, i.e. `process.argv.slice(2)`). */
export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  let command: string | undefined;
  let help = false;
  const positionals: string[] = [];
  const overrides: string[] = [];
  const values: Record<string, FlagValue> = {};
  const usage = (): string => formatUsage(spec, command);

  const activeFlags = (): Record<string, FlagSpec> => ({ ...(spec.flags ?? {}), ...(command !== undefined ? (spec.commands?.[command]?.flags ?? {}) : {}) });
  const byShort = (flags: Record<string, FlagSpec>, s: string): string | undefined =>
    Object.keys(flags).find((k) => flags[k]?.short === s);
  const where = (): string => (command !== undefined ? ` for '${command}'` : '');

  const convert = (name: string, f: FlagSpec, raw: string): boolean | string | number => {
    if (f.type === 'number') {
      if (!NUMBER_RE.test(raw.trim())) throw new UsageError(`option --${name} expects a number, got '${raw}'`, usage());
      return Number(raw);
    }
    if (f.type === 'boolean') {
      const t = raw.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(t)) return true;
      if (['false', 'no', 'off', '0'].includes(t)) return false;
      throw new UsageError(`option --${name} expects true or false, got '${raw}'`, usage());
    }
    return raw;
  };
  const store = (name: string, f: FlagSpec, v: boolean | string | number): void => {
    if (f.check !== undefined && !satisfies(v, f.check)) throw new UsageError(`option --${name} ${constraintMessage(v, f.check)}`, usage());
    if (f.multiple && f.type !== 'boolean') {
      const prev = values[name];
      values[name] = (Array.isArray(prev) ? [...prev, v] : [v]) as string[] | number[];
    } else values[name] = v;
  };

  let i = 0;
  let onlyPositionals = false;
  const takeValue = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('--') && next.length > 2) || (next.startsWith('-') && next.length === 2 && !/\d/.test(next[1] as string))) {
      throw new UsageError(`option --${name} requires a value`, usage());
    }
    i += 1;
    return next;
  };

  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (onlyPositionals) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      const flags = activeFlags();
      let f = flags[name];
      if (f) {
        if (f.type === 'boolean') store(name, f, inline === undefined ? true : convert(name, f, inline));
        else store(name, f, convert(name, f, takeValue(name, inline)));
        continue;
      }
      if (name.startsWith('no-') && inline === undefined) {
        const base = name.slice(3);
        f = flags[base];
        if (f && f.type === 'boolean') {
          store(base, f, false);
          continue;
        }
      }
      const close = suggest(name, Object.keys(flags));
      throw new UsageError(`unknown option --${name}${where()}${close ? ` (did you mean --${close}?)` : ''}`, usage());
    }
    if (arg.startsWith('-') && arg.length > 1 && !NUMBER_RE.test(arg)) {
      const flags = activeFlags();
      const eq = arg.indexOf('=');
      const body = eq >= 0 ? arg.slice(1, eq) : arg.slice(1);
      const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      if (body.length === 1) {
        const name = byShort(flags, body);
        if (!name) throw new UsageError(`unknown option -${body}${where()}`, usage());
        const f = flags[name] as FlagSpec;
        if (f.type === 'boolean') store(name, f, inline === undefined ? true : convert(name, f, inline));
        else store(name, f, convert(name, f, takeValue(name, inline)));
        continue;
      }
      // Clustered booleans: -abc
      for (const ch of body) {
        const name = byShort(flags, ch);
        if (!name) throw new UsageError(`unknown option -${ch}${where()}`, usage());
        const f = flags[name] as FlagSpec;
        if (f.type !== 'boolean') throw new UsageError(`option -${ch} (--${name}) needs a value and cannot be combined with other short options`, usage());
        store(name, f, true);
      }
      continue;
    }
    if (spec.commands && command === undefined) {
      if (!Object.prototype.hasOwnProperty.call(spec.commands, arg)) {
        const close = suggest(arg, Object.keys(spec.commands));
        throw new UsageError(
          `unknown command '${arg}'${close ? ` (did you mean '${close}'?)` : ''}; commands: ${Object.keys(spec.commands).join(', ')}`,
          usage(),
        );
      }
      command = arg;
      continue;
    }
    if (OVERRIDE_RE.test(arg)) {
      const allowed = (command !== undefined ? spec.commands?.[command]?.overrides : spec.overrides) !== false;
      if (!allowed) throw new UsageError(`'${arg}': ${command !== undefined ? `'${command}'` : spec.program} takes no key=value overrides`, usage());
      overrides.push(arg);
      continue;
    }
    positionals.push(arg);
  }

  // Defaults.
  const flags = activeFlags();
  for (const [name, f] of Object.entries(flags)) {
    if (values[name] !== undefined) continue;
    if (f.default !== undefined) values[name] = f.multiple && f.type !== 'boolean' ? ([f.default] as string[] | number[]) : f.default;
    else if (f.type === 'boolean') values[name] = false;
    else if (f.multiple) values[name] = [];
  }

  if (spec.commands && command === undefined && !help) {
    throw new UsageError(`missing command; commands: ${Object.keys(spec.commands).join(', ')}`, usage());
  }

  // Positionals.
  const posSpec = (command !== undefined ? spec.commands?.[command]?.positionals : spec.positionals) ?? [];
  const named: Record<string, string | string[] | undefined> = {};
  let p = 0;
  for (const ps of posSpec) {
    if (ps.variadic) {
      named[ps.name] = positionals.slice(p);
      if (!help && ps.required !== false && p >= positionals.length) throw new UsageError(`missing argument <${ps.name}>`, usage());
      p = positionals.length;
      break;
    }
    const v = positionals[p];
    if (v === undefined) {
      if (!help && ps.required !== false) throw new UsageError(`missing argument <${ps.name}>`, usage());
    } else p += 1;
    named[ps.name] = v;
  }
  if (!help && p < positionals.length) {
    throw new UsageError(`unexpected argument '${positionals[p]}'${where()}`, usage());
  }

  return { command, flags: values, named, positionals, overrides, help };
}

/** Typed accessors for ParsedArgs.flags: return undefined (or false / []) when unset or of another type. */
export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function flagNumber(args: ParsedArgs, name: string): number | undefined {
  const v = args.flags[name];
  return typeof v === 'number' ? v : undefined;
}

export function flagBoolean(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

export function flagList(args: ParsedArgs, name: string): string[] {
  const v = args.flags[name];
  return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
}
