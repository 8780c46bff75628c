/**
 * One configuration format for every command:
 *
 *     config = defaults ← file (JSON or YAML, chosen by extension) ← key=value overrides
 *
 * The defaults object doubles as the schema: it defines which keys exist and their types.
 *
 *  | default value            | accepted values                                                  |
 *  |--------------------------|------------------------------------------------------------------|
 *  | number                   | numbers (override text: `3`, `-1.5`, `1e-3`, `Infinity`)          |
 *  | string                   | strings (override text is taken verbatim; surrounding quotes are stripped) |
 *  | boolean                  | booleans (override text: true/false, yes/no, on/off, 1/0)         |
 *  | array                    | arrays, elements typed like the default's first element (`[1,2]`, `1,2`, `[]`) |
 *  | non-empty object         | a section: only its keys are valid, recursively                 |
 *  | empty object `{}`        | a free-form map: any keys, any values                           |
 *  | null                     | anything (optional value of unconstrained type)                 |
 *
 * Unknown keys are rejected with the closest matches and the list of valid keys; wrong types name
 * the key and the expected type; syntax errors name the file, line and column.
 *
 * A rule table ({@link ConfigRules}) narrows the types: ranges, whole numbers, string choices. Its
 * keys are dotted key suffixes (`epochs` matches `train.epochs` and `zoo.recipe.epochs`); the longest
 * matching suffix wins, and a list's rule applies to each element.
 */
import { MetapruneError } from '../errors.js';
import { editDistance } from './suggest.js';
import { constraintMessage, describeConstraint, satisfies, type Constraint } from './constraints.js';
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { LineCounter, isMap, isScalar, parse as parseYaml, parseDocument } from 'yaml';

export interface ConfigErrorDetails {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** Dotted key the error is about, when there is one. */
  readonly key?: string;
}

/** Any problem with a config file or an override. The message is meant for the end user. */
export class ConfigError extends MetapruneError {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly key?: string;

  constructor(message: string, details: ConfigErrorDetails = {}) {
    super('config', message, { subject: details.key ?? details.file });
    this.name = 'ConfigError';
    this.file = details.file;
    this.line = details.line;
    this.column = details.column;
    this.key = details.key;
  }
}

type Kind = 'number' | 'string' | 'boolean' | 'array' | 'section' | 'map' | 'any';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function kindOf(def: unknown): Kind {
  if (typeof def === 'number') return 'number';
  if (typeof def === 'string') return 'string';
  if (typeof def === 'boolean') return 'boolean';
  if (Array.isArray(def)) return 'array';
  if (isPlainObject(def)) return Object.keys(def).length > 0 ? 'section' : 'map';
  return 'any';
}

/** Element kind of an array default: the first element's kind when all elements share it. */
function elementKind(def: readonly unknown[]): Kind {
  if (def.length === 0) return 'any';
  const k = kindOf(def[0]);
  return def.every((e) => kindOf(e) === k) ? k : 'any';
}

function kindName(def: unknown): string {
  const k = kindOf(def);
  switch (k) {
    case 'array': {
      const ek = elementKind(def as unknown[]);
      return ek === 'any' ? 'list' : `list of ${ek === 'section' || ek === 'map' ? 'object' : ek}s`;
    }
    case 'section':
      return 'section';
    case 'map':
      return 'mapping';
    case 'any':
      return 'any value';
    default:
      return k;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

function joinPath(path: readonly string[]): string {
  return path.join('.');
}

// ---------------------------------------------------------------------------------------------
// Key listing and suggestions
// ---------------------------------------------------------------------------------------------

/** All dotted leaf keys of a defaults object (sections are descended into; maps are leaves). */
export function configKeys(defaults: object, prefix: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(defaults)) {
    const p = [...prefix, k];
    if (kindOf(v) === 'section') out.push(...configKeys(v as object, p));
    else out.push(joinPath(p));
  }
  return out;
}

/** Up to 3 valid dotted keys close to `wanted` (by full path or by last segment). */
function closestKeys(defaults: object, wanted: string): string[] {
  const all = configKeys(defaults);
  const wl = wanted.toLowerCase();
  const lastW = wl.split('.').pop() ?? wl;
  const scored = all.map((k) => {
    const kl = k.toLowerCase();
    const last = kl.split('.').pop() ?? kl;
    const d = Math.min(editDistance(kl, wl), editDistance(last, lastW) + (kl === last ? 0 : 0.5));
    return { k, d, limit: Math.max(1, Math.floor(Math.max(lastW.length, last.length) / 3)) };
  });
  return scored
    .filter((s) => {
      const last = s.k.toLowerCase().split('.').pop() ?? '';
      const prefix = Math.min(last.length, lastW.length) >= 2 && (last.startsWith(lastW) || lastW.startsWith(last));
      return s.d <= s.limit || prefix || s.k.toLowerCase().endsWith(`.${lastW}`);
    })
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, 3)
    .map((s) => s.k);
}

function validKeysAt(section: object, prefix: readonly string[]): string[] {
  return Object.entries(section).map(([k, v]) => {
    const p = joinPath([...prefix, k]);
    return kindOf(v) === 'section' ? `${p}.*` : p;
  });
}

function unknownKeyMessage(defaults: object, section: object, path: readonly string[]): string {
  const key = joinPath(path);
  const where = path.length > 1 ? `in '${joinPath(path.slice(0, -1))}'` : 'at top level';
  const valid = validKeysAt(section, path.slice(0, -1));
  const shown = valid.length > 40 ? [...valid.slice(0, 40), `… (${valid.length - 40} more)`] : valid;
  const close = closestKeys(defaults, key);
  const hint = close.length > 0 ? ` Did you mean ${close.map((c) => `'${c}'`).join(' or ')}?` : '';
  return `unknown config key '${key}'.${hint} Valid keys ${where}: ${shown.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Validation / merging of parsed data
// ---------------------------------------------------------------------------------------------

interface Ctx {
  /** Prefix for messages, e.g. "config.yaml:12:3: " or "override 'a=b': ". */
  readonly where: (path: readonly string[]) => { prefix: string; details: ConfigErrorDetails };
  readonly defaults: object;
}

function fail(ctx: Ctx, path: readonly string[], message: string): never {
  const { prefix, details } = ctx.where(path);
  throw new ConfigError(`${prefix}${message}`, { ...details, key: path.length ? joinPath(path) : undefined });
}

function cloneData<V>(v: V): V {
  return structuredClone(v);
}

function checkKeys(ctx: Ctx, obj: Record<string, unknown>, path: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (FORBIDDEN_KEYS.has(k)) fail(ctx, [...path, k], `config key '${joinPath([...path, k])}' is not allowed`);
    const v = obj[k];
    if (isPlainObject(v)) checkKeys(ctx, v, [...path, k]);
  }
}

/**
 * Validates `value` against the schema `def` and returns the merge of `base` (a value already
 * valid for `def`) with `value`. Sections merge key by key; everything else is replaced.
 */
function mergeValue(ctx: Ctx, def: unknown, base: unknown, value: unknown, path: readonly string[]): unknown {
  const kind = kindOf(def);
  const key = joinPath(path);
  switch (kind) {
    case 'section': {
      if (!isPlainObject(value)) {
        fail(ctx, path, `config key '${key}' is a section; expected a mapping of ${validKeysAt(def as object, path).join(', ')}, got ${describeValue(value)}`);
      }
      const out: Record<string, unknown> = isPlainObject(base) ? { ...base } : cloneData(def as Record<string, unknown>);
      const schema = def as Record<string, unknown>;
      for (const [k, v] of Object.entries(value)) {
        const p = [...path, k];
        if (FORBIDDEN_KEYS.has(k)) fail(ctx, p, `config key '${joinPath(p)}' is not allowed`);
        if (!Object.prototype.hasOwnProperty.call(schema, k)) fail(ctx, p, unknownKeyMessage(ctx.defaults, schema, p));
        out[k] = mergeValue(ctx, schema[k], out[k], v, p);
      }
      return out;
    }
    case 'map': {
      if (!isPlainObject(value)) fail(ctx, path, `config key '${key}' expects a mapping, got ${describeValue(value)}`);
      checkKeys(ctx, value, path);
      return cloneData(value);
    }
    case 'array': {
      if (!Array.isArray(value)) fail(ctx, path, `config key '${key}' expects a ${kindName(def)}, got ${describeValue(value)}`);
      const ek = elementKind(def as unknown[]);
      const proto = (def as unknown[])[0];
      return value.map((e, i) => {
        if (ek === 'any') return cloneData(e);
        return mergeValue(ctx, proto, cloneData(proto), e, [...path, String(i)]);
      });
    }
    case 'number':
      if (typeof value !== 'number' || Number.isNaN(value)) fail(ctx, path, `config key '${key}' expects a number, got ${describeValue(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string') fail(ctx, path, `config key '${key}' expects a string, got ${describeValue(value)}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') fail(ctx, path, `config key '${key}' expects a boolean (true/false), got ${describeValue(value)}`);
      return value;
    case 'any':
      if (isPlainObject(value)) checkKeys(ctx, value, path);
      return cloneData(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      last = i;
    }
  }
  return { line, column: end - last };
}

/**
 * Finds the first syntax error in JSON text (offset + message), or undefined when the text is valid.
 * Needed because V8's JSON.parse messages do not always include a position.
 */
export function findJsonError(text: string): { offset: number; message: string } | undefined {
  let i = 0;
  const n = text.length;
  class Stop extends Error {
    constructor(
      readonly offset: number,
      readonly why: string,
    ) {
      super(why);
    }
  }
  const stop = (why: string, at = i): never => {
    throw new Stop(at, why);
  };
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const show = (c: string | undefined): string => (c === undefined ? 'end of input' : `'${c}'`);
  const str = (): void => {
    const start = i;
    i++;
    for (;;) {
      if (i >= n) stop('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) stop('unescaped control character (e.g. a newline) in string');
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) stop('invalid \\u escape in string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else stop(`invalid escape '\\${e ?? ''}' in string`);
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') stop(`expected a property name in double quotes, found ${show(text[i])}`);
        str();
        ws();
        if (text[i] !== ':') stop(`expected ':' after property name, found ${show(text[i])}`);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          const comma = i;
          i++;
          ws();
          if (text[i] === '}') stop('trailing comma before }', comma);
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        stop(`expected ',' or '}' after property value, found ${show(text[i])}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          const comma = i;
          i++;
          ws();
          if (text[i] === ']') stop('trailing comma before ]', comma);
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        stop(`expected ',' or ']' after array element, found ${show(text[i])}`);
      }
    }
    if (c === '"') return str();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      const re = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      re.lastIndex = i;
      const m = re.exec(text);
      if (!m) stop('invalid number');
      i += (m as RegExpExecArray)[0].length;
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    stop(c === undefined ? 'unexpected end of input' : `unexpected ${show(c)}`);
  };
  try {
    value();
    ws();
    if (i < n) stop(`unexpected ${show(text[i])} after the end of the JSON value`);
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, message: e.why };
    throw e;
  }
}

interface ParsedFile {
  readonly value: unknown;
  /** Line/column of a dotted key in the file, when it can be found. */
  readonly locate: (path: readonly string[]) => { line: number; column: number } | undefined;
}

function makeLocator(text: string): ParsedFile['locate'] {
  let doc: ReturnType<typeof parseDocument> | undefined;
  const lc = new LineCounter();
  return (path) => {
    try {
      doc ??= parseDocument(text, { lineCounter: lc, uniqueKeys: false });
      for (let len = path.length; len > 0; len--) {
        const parent = len === 1 ? doc.contents : doc.getIn(path.slice(0, len - 1), true);
        if (!isMap(parent)) continue;
        const want = path[len - 1];
        for (const item of parent.items) {
          const k = item.key;
          if (isScalar(k) && String(k.value) === want && k.range) {
            const pos = lc.linePos(k.range[0]);
            return { line: pos.line, column: pos.col };
          }
        }
      }
    } catch {
      /* best effort */
    }
    return undefined;
  };
}

/** Parses config text by the file's extension (.json, .yaml, .yml). Throws ConfigError with file:line:col. */
export function parseConfigText(text: string, file: string): ParsedFile {
  const src = text.replace(/^\uFEFF/, '');
  const ext = extname(file).toLowerCase();
  if (ext === '.json') {
    try {
      const value: unknown = JSON.parse(src);
      return { value, locate: makeLocator(src) };
    } catch (e) {
      const found = findJsonError(src);
      if (found) {
        const { line, column } = lineCol(src, found.offset);
        const lineText = src.split('\n')[line - 1] ?? '';
        throw new ConfigError(
          `invalid JSON in ${file} at line ${line}, column ${column}: ${found.message}\n    ${lineText.replace(/\t/g, ' ')}\n    ${' '.repeat(Math.max(0, column - 1))}^`,
          { file, line, column },
        );
      }
      throw new ConfigError(`invalid JSON in ${file}: ${(e as Error).message}`, { file });
    }
  }
  if (ext === '.yaml' || ext === '.yml') {
    const lc = new LineCounter();
    const doc = parseDocument(src, { lineCounter: lc, prettyErrors: true });
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0] ?? lc.linePos(err.pos[0]);
      const detail = err.message.replace(/ at line \d+, column \d+/, '');
      throw new ConfigError(`invalid YAML in ${file} at line ${pos.line}, column ${pos.col}: ${detail}`.trimEnd(), {
        file,
        line: pos.line,
        column: pos.col,
      });
    }
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    return { value: value ?? {}, locate: makeLocator(src) };
  }
  throw new ConfigError(`unsupported config file extension '${ext || '(none)'}' for ${file}: use .json, .yaml or .yml`, { file });
}

/** Reads and parses a config file (no validation). */
export function readConfigFile(file: string): ParsedFile {
  if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`, { file });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`, { file });
  }
  return parseConfigText(text, file);
}

// ---------------------------------------------------------------------------------------------
// Overrides
// ---------------------------------------------------------------------------------------------

const KEY_RE = /^[A-Za-z_][\w-]*(?:\.[A-Za-z0-9_][\w-]*)*$/;
const NUMBER_RE = /^[+-]?(?:\d+(?:_\d+)*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Splits `a.b.c=value` into its key path and raw value text. */
export function parseOverride(override: string): { path: string[]; raw: string } {
  const eq = override.indexOf('=');
  if (eq <= 0) throw new ConfigError(`override '${override}' must have the form key=value (e.g. train.epochs=20)`);
  const key = override.slice(0, eq).trim();
  if (!KEY_RE.test(key)) throw new ConfigError(`override '${override}': '${key}' is not a valid dotted key`, { key });
  const path = key.split('.');
  for (const seg of path) {
    if (FORBIDDEN_KEYS.has(seg)) throw new ConfigError(`override '${override}': key segment '${seg}' is not allowed`, { key });
  }
  return { path, raw: override.slice(eq + 1) };
}

function stripQuotes(s: string): string {
  if (s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")))) return s.slice(1, -1);
  return s;
}

function parseNumber(raw: string): number | undefined {
  const t = raw.trim();
  if (NUMBER_RE.test(t)) return Number(t.replace(/_/g, ''));
  if (/^[+-]?(Infinity|inf|\.inf)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  return undefined;
}

function parseBoolean(raw: string): boolean | undefined {
  const t = raw.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(t)) return true;
  if (['false', 'no', 'off', '0'].includes(t)) return false;
  return undefined;
}

/** Parses untyped override text the way YAML would read a scalar: number, boolean, null, else string. */
function parseLoose(raw: string): unknown {
  const t = raw.trim();
  if (t.startsWith('[') || t.startsWith('{')) return parseYaml(t) as unknown;
  if (t === 'null' || t === '~') return null;
  if (t === 'true' || t === 'false') return t === 'true';
  const n = parseNumber(t);
  if (n !== undefined) return n;
  return stripQuotes(t);
}

/** Converts override text to a value of the schema's type, or throws. */
function convertOverride(def: unknown, raw: string, path: readonly string[], fail2: (msg: string) => never): unknown {
  const key = joinPath(path);
  switch (kindOf(def)) {
    case 'number': {
      const n = parseNumber(raw);
      if (n === undefined) fail2(`config key '${key}' expects a number, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'boolean': {
      const b = parseBoolean(raw);
      if (b === undefined) fail2(`config key '${key}' expects a boolean (true/false), got ${JSON.stringify(raw)}`);
      return b;
    }
    case 'string':
      return stripQuotes(raw);
    case 'array': {
      const t = raw.trim();
      const ek = elementKind(def as unknown[]);
      let items: unknown[];
      if (t.startsWith('[')) {
        let parsed: unknown;
        try {
          parsed = parseYaml(t);
        } catch (e) {
          fail2(`config key '${key}' expects a ${kindName(def)} like [1, 2]; cannot parse ${JSON.stringify(raw)}: ${(e as Error).message.split('\n')[0]}`);
        }
        if (!Array.isArray(parsed)) fail2(`config key '${key}' expects a ${kindName(def)}, got ${JSON.stringify(raw)}`);
        items = parsed as unknown[];
        // YAML reads [1, 2] as numbers; string lists want strings.
        if (ek === 'string') items = items.map((e) => (typeof e === 'number' || typeof e === 'boolean' ? String(e) : e));
        return items;
      }
      if (t === '') return [];
      const parts = t.split(',').map((p) => p.trim());
      return parts.map((p, i) => {
        if (ek === 'number' || ek === 'boolean' || ek === 'string') return convertOverride((def as unknown[])[0], p, [...path, String(i)], fail2);
        return parseLoose(p);
      });
    }
    case 'section':
    case 'map': {
      const t = raw.trim();
      if (t.startsWith('{')) {
        try {
          return parseYaml(t) as unknown;
        } catch (e) {
          fail2(`cannot parse ${JSON.stringify(raw)} as a mapping: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      if (kindOf(def) === 'section') {
        const first = configKeys(def as object, path)[0] ?? `${key}.…`;
        fail2(`config key '${key}' is a section; set its keys individually (e.g. ${first}=…) or give a mapping like {key: value}. Valid keys: ${validKeysAt(def as object, path).join(', ')}`);
      }
      fail2(`config key '${key}' expects a mapping like {key: value}, got ${JSON.stringify(raw)}`);
      break;
    }
    case 'any':
      try {
        return parseLoose(raw);
      } catch (e) {
        fail2(`cannot parse ${JSON.stringify(raw)}: ${(e as Error).message.split('\n')[0]}`);
      }
  }
  return undefined;
}

/**
 * Applies `key=value` overrides to `config` (which must already be valid for `defaults`) and
 * returns the new config. `config` itself is not modified.
 */
export function applyOverrides<T extends object>(defaults: T, config: T, overrides: readonly string[]): T {
  let out: unknown = cloneData(config);
  for (const o of overrides) out = applyOverride(defaults, out, o);
  return out as T;
}

function applyOverride(defaults: object, config: unknown, override: string): unknown {
  const { path, raw } = parseOverride(override);
  const ctx: Ctx = { defaults, where: () => ({ prefix: `override '${override}': `, details: {} }) };
  const failHere = (msg: string): never => fail(ctx, path, msg);

  // Walk the schema and the config in parallel down to the parent of the target key.
  let schema: unknown = defaults;
  let target = config as Record<string, unknown>;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i] as string;
    const sub = path.slice(0, i + 1);
    const kind = kindOf(schema);
    const isLast = i === path.length - 1;
    if (kind === 'map' || kind === 'any') {
      // Free-form below this point: create intermediate mappings as needed.
      if (isLast) {
        target[seg] = convertOverride(null, raw, sub, failHere);
        return config;
      }
      const next = target[seg];
      if (!isPlainObject(next)) target[seg] = {};
      target = target[seg] as Record<string, unknown>;
      schema = {};
      continue;
    }
    if (kind !== 'section') {
      fail(ctx, path, `config key '${joinPath(path.slice(0, i))}' is a ${kindName(schema)}, not a section, so '${joinPath(path)}' does not exist`);
    }
    const sec = schema as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(sec, seg)) fail(ctx, sub, unknownKeyMessage(defaults, sec, sub));
    const def = sec[seg];
    if (isLast) {
      const value = convertOverride(def, raw, sub, failHere);
      target[seg] = mergeValue(ctx, def, target[seg], value, sub);
      return config;
    }
    const childKind = kindOf(def);
    if (childKind === 'section' || childKind === 'map' || childKind === 'any') {
      if (!isPlainObject(target[seg])) target[seg] = childKind === 'section' ? cloneData(def) : {};
      target = target[seg] as Record<string, unknown>;
      schema = def;
      continue;
    }
    fail(ctx, path, `config key '${joinPath(sub)}' is a ${kindName(def)}, not a section, so '${joinPath(path)}' does not exist`);
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------------

/**
 * Validates arbitrary parsed data against the defaults and merges it over them.
 * `source` names where the data came from in error messages (e.g. a file name).
 */
export function mergeConfig<T extends object>(defaults: T, value: unknown, source = 'config', locate?: ParsedFile['locate']): T {
  const ctx: Ctx = {
    defaults,
    where: (path) => {
      const pos = path.length ? locate?.(path) : undefined;
      return pos
        ? { prefix: `${source}:${pos.line}:${pos.column}: `, details: { file: source, line: pos.line, column: pos.column } }
        : { prefix: `${source}: `, details: { file: source } };
    },
  };
  if (kindOf(defaults) !== 'section' && kindOf(defaults) !== 'map') throw new ConfigError('config defaults must be a non-empty plain object');
  if (!isPlainObject(value)) {
    throw new ConfigError(`${source}: the top level must be a mapping of config keys, got ${describeValue(value)}`, { file: source });
  }
  return mergeValue(ctx, defaults, cloneData(defaults), value, []) as T;
}

/**
 * Loads a configuration: `defaults` ← `file` (JSON/YAML by extension, optional) ← `overrides`
 * (`key=value` strings with dotted keys, applied in order). Everything is validated against the
 * defaults; `defaults` is never modified. Throws {@link ConfigError}.
 */
export function loadConfig<T extends object>(defaults: T, file?: string, overrides: readonly string[] = [], rules: ConfigRules = {}): T {
  let config: T = cloneData(defaults);
  if (file !== undefined && file !== '') {
    const parsed = readConfigFile(file);
    config = mergeConfig(defaults, parsed.value, file, parsed.locate);
  }
  const out = applyOverrides(defaults, config, overrides);
  checkRules(defaults, out, rules);
  return out;
}

/** Constraints by dotted key suffix; see the module comment. */
export type ConfigRules = Readonly<Record<string, Constraint>>;

/** The rule for a dotted key: the one whose key is the longest dotted suffix of it. */
export function ruleFor(rules: ConfigRules, key: string): Constraint | undefined {
  let best: string | undefined;
  for (const r of Object.keys(rules)) {
    if ((key === r || key.endsWith(`.${r}`)) && (best === undefined || r.length > best.length)) best = r;
  }
  return best !== undefined ? rules[best] : undefined;
}

/** Checks every leaf of a merged config against the rules; throws ConfigError naming the key. */
export function checkRules(defaults: object, config: object, rules: ConfigRules, source?: string): void {
  const walk = (def: unknown, value: unknown, path: string[]): void => {
    if (kindOf(def) === 'section') {
      for (const [k, d] of Object.entries(def as object)) walk(d, (value as Record<string, unknown>)[k], [...path, k]);
      return;
    }
    const key = joinPath(path);
    const rule = ruleFor(rules, key);
    if (rule === undefined) return;
    const values = Array.isArray(value) ? value : [value];
    values.forEach((v, i) => {
      if (satisfies(v, rule)) return;
      const at = Array.isArray(value) ? `${key}[${i}]` : key;
      throw new ConfigError(`${source !== undefined ? `${source}: ` : ''}config key '${at}': ${constraintMessage(v, rule)}`, { key, ...(source !== undefined ? { file: source } : {}) });
    });
  };
  walk(defaults, config, []);
}

/** Human-readable list of all config keys with their types and defaults (for --help). */
export function describeConfig(defaults: object, rules: ConfigRules = {}): string {
  const lines: string[] = [];
  const walk = (obj: object, prefix: string[]): void => {
    for (const [k, v] of Object.entries(obj)) {
      const p = [...prefix, k];
      const rule = ruleFor(rules, joinPath(p));
      if (kindOf(v) === 'section') walk(v as object, p);
      else lines.push(`  ${joinPath(p).padEnd(28)} ${kindName(v).padEnd(16)} default: ${JSON.stringify(v)}${rule ? `; ${describeConstraint(rule)}` : ''}`);
    }
  };
  walk(defaults, []);
  return lines.join('\n');
}
