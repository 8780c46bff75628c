/**
 * The run-directory contract: who may write a run directory, and which run it holds.
 *
 *  - A lock file (`.metaprune.lock`, created with O_EXCL) names the writer (pid, host, command,
 *    start time); a second writer is refused with the holder named. A lock whose pid is dead on
 *    this host is stale and taken over.
 *  - A manifest (`run.json`: command and settings) says which run the directory holds, read as
 *    plain JSON. A non-empty directory is only continued by the same command with the same
 *    settings (resume), or overwritten when asked (force); otherwise it is refused, listing the
 *    settings that differ.
 *  - Temp files of writers that died mid-write are removed once the lock is held.
 *  - A stage's result file (`{ key, inputs, done, value }`) is reused only when it was made with
 *    the same settings key and the same inputs (checkpoint hashes), see {@link reuseStage}.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { pidAlive, removeDeadTempFiles, writeJsonAtomic } from './atomic.js';
import { MetapruneError } from '../errors.js';

export class RunDirError extends MetapruneError {
  constructor(message: string) {
    super('io', message);
    this.name = 'RunDirError';
  }
}

export const LOCK_FILE = '.metaprune.lock';
export const MANIFEST_FILE = 'run.json';

interface LockRecord { pid: number; host: string; command: string; started: string }

export interface RunLock {
  readonly dir: string;
  /** Removes the lock (idempotent; only ours). */
  release(): void;
}

function readLock(file: string): LockRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
    return typeof r.pid === 'number' && typeof r.host === 'string' ? r : null;
  } catch {
    return null;
  }
}

/** A lock is stale when its writer is dead on this host, or it stayed unreadable for 10 s (a writer killed while creating it). */
function isStale(file: string, r: LockRecord | null): boolean {
  if (r === null) {
    try {
      return Date.now() - statSync(file).mtimeMs > 10_000;
    } catch {
      return true;
    }
  }
  return r.host === hostname() && !pidAlive(r.pid);
}

/** Creates `file` exclusively with `content`; false when it exists. */
function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Takes the directory's lock (creating the directory) or throws naming the current holder. */
export function acquireRunLock(dir: string, command: string): RunLock {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const me: LockRecord = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(file, JSON.stringify(me) + '\n')) {
      let held = true;
      const release = (): void => {
        if (!held) return;
        held = false;
        process.off('exit', release);
        const r = readLock(file);
        if (r !== null && r.pid === me.pid && r.host === me.host && r.started === me.started) rmSync(file, { force: true });
      };
      process.on('exit', release);
      return { dir, release };
    }
    const holder = readLock(file);
    if (!isStale(file, holder)) {
      const who = holder === null ? 'another process' : `'${holder.command}' (pid ${holder.pid} on ${holder.host}, since ${holder.started})`;
      throw new RunDirError(`${dir}: in use by ${who}; wait for it to finish or choose another --out` +
        (holder !== null && holder.host !== hostname() ? ` (if that run is gone, delete ${file})` : ''));
    }
    // Break the stale lock under a short-lived second lock, so two newcomers cannot both break it.
    const breaker = `${file}.break`;
    if (isStale(breaker, readLock(breaker)) && existsSync(breaker)) rmSync(breaker, { force: true });
    if (!createExclusive(breaker, JSON.stringify(me) + '\n')) continue;
    try {
      const again = readLock(file);
      if (existsSync(file) && isStale(file, again) && (again === null || holder === null || again.started === holder.started)) unlinkSync(file);
    } finally {
      rmSync(breaker, { force: true });
    }
  }
  throw new RunDirError(`${dir}: could not take the lock ${file}; another writer keeps taking it`);
}

/** Dotted keys whose values differ between a and b (leaves compared by their JSON), sorted. */
export function diffKeys(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffKeys(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix === '' ? '(value)' : prefix];
}

/** "k a → b, ..." for up to four of the differing keys. */
export function describeDiff(stored: unknown, current: unknown, keys: readonly string[]): string {
  const show = (v: unknown, k: string): string => JSON.stringify(k.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown> | undefined)?.[p], v)) ?? 'none';
  return keys.slice(0, 4).map((k) => `${k} ${show(stored, k)} → ${show(current, k)}`).join(', ') + (keys.length > 4 ? `, and ${keys.length - 4} more` : '');
}

/**
 * How a command treats a directory that already holds files:
 *  - 'new': refuse (a fresh run must not overwrite part of another);
 *  - 'resume': continue only the same command's run with the same settings (minus `ignore`);
 *  - 'continue': continue the same command's run; the caller checks the settings stage by stage;
 *  - 'force': remove the previous run's files (`outputs`) and start afresh.
 */
export type RunDirMode = 'new' | 'resume' | 'continue' | 'force';

export interface ClaimOptions {
  command: string;
  settings: unknown;
  mode: RunDirMode;
  /** Dotted settings keys that may differ on resume (e.g. 'out'). */
  ignore?: readonly string[];
  /** Names (files or folders) the command writes; removed by 'force'. */
  outputs?: readonly string[];
}

export interface RunManifest { command: string; settings: unknown }

/** The manifest of a run directory, or null (none, or a directory written before manifests). */
export function readManifest(dir: string): RunManifest | null {
  const f = join(dir, MANIFEST_FILE);
  if (!existsSync(f)) return null;
  try {
    const m = JSON.parse(readFileSync(f, 'utf8')) as RunManifest;
    if (typeof m.command !== 'string') throw new RunDirError('no command');
    return m;
  } catch (e) {
    throw new RunDirError(`${f}: not a metaprune run manifest (${(e as Error).message}); delete the directory or choose another --out`);
  }
}

/**
 * Takes a run directory for a command: locks it, checks that what it holds may be continued
 * (see {@link RunDirMode}), removes dead writers' temp files and records the manifest. The caller
 * releases the lock when done.
 */
export function claimRunDir(dir: string, o: ClaimOptions): RunLock {
  if (dir === '') throw new RunDirError(`--out '': expected a directory path (use --out . for the current directory)`);
  const lock = acquireRunLock(dir, o.command);
  try {
    const present = readdirSync(dir).filter((f) => f !== LOCK_FILE && !f.startsWith(`${LOCK_FILE}.`));
    if (present.length > 0) {
      if (o.mode === 'force') {
        for (const f of o.outputs ?? []) rmSync(join(dir, f), { recursive: true, force: true });
      } else {
        const m = readManifest(dir);
        const what = m !== null ? `a '${m.command}' run` : `files (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''})`;
        const legacy = m === null && existsSync(join(dir, 'config.json'));
        if (o.mode === 'new' || (m !== null && m.command !== o.command) || (m === null && !legacy)) {
          throw new RunDirError(`${dir}: already holds ${what}; ` +
            (o.mode === 'new' ? 'continue it with --resume, ' : '') + 'overwrite it with --force, or choose another --out');
        }
        if (o.mode === 'resume') {
          const stored = m?.settings ?? JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
          const diff = diffKeys(stored, o.settings).filter((k) => !(o.ignore ?? []).includes(k));
          if (diff.length > 0) {
            throw new RunDirError(`${dir}: cannot resume with other settings (${describeDiff(stored, o.settings, diff)}); ` +
              'use the same settings, --force to start over, or another --out');
          }
        }
      }
    }
    removeDeadTempFiles(dir);
    writeJsonAtomic(join(dir, MANIFEST_FILE), { command: o.command, settings: o.settings } satisfies RunManifest);
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}

interface StageFile<V> { key: unknown; inputs?: Record<string, string>; done?: boolean; value: V }

/**
 * The value saved in `file` when it was made with the same settings `key` and the same `inputs`
 * (e.g. sha256 of the checkpoints it read; files without a record of inputs match on the key);
 * otherwise computes it and saves it with its key and inputs. The file is read as plain JSON.
 */
export async function reuseStage<V>(file: string, key: unknown, inputs: Record<string, string>, compute: () => Promise<V>): Promise<V> {
  if (existsSync(file)) {
    let c: StageFile<V> | undefined;
    try {
      c = JSON.parse(readFileSync(file, 'utf8')) as StageFile<V>;
    } catch {
      c = undefined; // unreadable: recompute (it is written atomically, so only a hand edit gets here)
    }
    if (c !== undefined && c.done !== false && JSON.stringify(c.key) === JSON.stringify(key) &&
      (c.inputs === undefined || diffKeys(c.inputs, inputs).length === 0)) return c.value;
  }
  const value = await compute();
  writeJsonAtomic(file, { key, inputs, done: true, value } satisfies StageFile<V>);
  return value;
}

/** Resolves `rel` (read from a file in `dir`) inside `dir`, refusing paths that leave it. */
export function insideDir(dir: string, rel: string, what: string): string {
  const base = resolve(dir);
  const p = resolve(base, rel);
  if (p !== base && !p.startsWith(base + sep)) throw new RunDirError(`${what}: path '${rel}' leaves the run directory ${dir}`);
  return p;
}
