/**
 * Resuming a stage reuses what an earlier run left in its directory. That is only right when the
 * earlier run used the same settings for everything the saved results depend on; otherwise (say
 * `demo --quick` pointed at a full demo's directory) the mix is silently wrong. These helpers name
 * the settings that differ so the stage can refuse with a message that says what to do.
 */
import { describeDiff, diffKeys } from '../io/run-dir.js';
import { MetapruneError } from '../errors.js';

export { diffKeys };

/**
 * Throws when `stored` (the settings the directory's results were made with) and `current` differ
 * outside `ignore` (dotted keys that do not change saved results, e.g. how many more to make).
 */
export function assertResumable(what: string, dir: string, stored: unknown, current: unknown, ignore: readonly string[] = []): void {
  const diff = diffKeys(stored, current).filter((k) => !ignore.includes(k));
  if (diff.length === 0) return;
  throw new MetapruneError('io', `${dir}: holds ${what} made with other settings (${describeDiff(stored, current, diff)}); ` +
    'use another run directory (--out) or delete this one');
}
