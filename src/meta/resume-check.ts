/**
 * Resuming a stage reuses what an earlier run left in its directory. That is only right when the
 * earlier run used the same settings for everything the saved results depend on; otherwise (say
 * `demo --quick` pointed at a full demo's directory) the mix is silently wrong. These helpers name
 * the settings that differ so the stage can refuse with a message that says what to do.
 */
import { MetapruneError } from '../errors.js';

/** Dotted keys whose values differ between a and b (leaves compared by their JSON), sorted. */
export function diffKeys(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffKeys(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix === '' ? '(value)' : prefix];
}

/**
 * Throws when `stored` (the settings the directory's results were made with) and `current` differ
 * outside `ignore` (dotted keys that do not change saved results, e.g. how many more to make).
 */
export function assertResumable(what: string, dir: string, stored: unknown, current: unknown, ignore: readonly string[] = []): void {
  const diff = diffKeys(stored, current).filter((k) => !ignore.includes(k));
  if (diff.length === 0) return;
  const show = (v: unknown, k: string): string => JSON.stringify(k.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown> | undefined)?.[p], v));
  const detail = diff.slice(0, 4).map((k) => `${k} ${show(stored, k)} → ${show(current, k)}`).join(', ');
  throw new MetapruneError('io', `${dir}: holds ${what} made with other settings (${detail}${diff.length > 4 ? `, and ${diff.length - 4} more` : ''}); ` +
    'use another run directory (--out) or delete this one');
}
