/**
 * What backends implementing `residentScope` (see fast.ts) share: the memory budget of open scopes,
 * the NaN "poison" of given-back arrays, and the check that a scope's result is not one of its
 * own arrays.
 */
import { EngineError } from '../errors.js';

const DEFAULT_MB = 1024;
const MAX_MB = 3072;

/** METAPRUNE_RESIDENT_MB (0 = scopes off), default 1024 MiB. */
function budgetFromEnv(): number {
  const v = process.env.METAPRUNE_RESIDENT_MB;
  if (v === undefined || v.trim() === '') return DEFAULT_MB * 2 ** 20;
  const mb = Number(v);
  if (!Number.isFinite(mb) || mb < 0) {
    process.stderr.write(`metaprune: METAPRUNE_RESIDENT_MB='${v}' is not a non-negative number; using ${DEFAULT_MB}\n`);
    return DEFAULT_MB * 2 ** 20;
  }
  return Math.min(mb, MAX_MB) * 2 ** 20;
}

export const residentSettings = {
  /** Bytes the open scopes of one backend may hold; outputs past it are plain arrays. */
  budget: budgetFromEnv(),
  /** METAPRUNE_RESIDENT_POISON=1: fill given-back memory with NaN (finds arrays used after their scope). */
  poison: process.env.METAPRUNE_RESIDENT_POISON === '1',
};

/** Sets the budget in MiB (0 turns resident scopes off); returns the previous one. */
export function setResidentBudgetMB(mb: number): number {
  if (!Number.isFinite(mb) || mb < 0) throw new EngineError(`metaprune: resident budget must be a non-negative number of MiB, got ${mb}`);
  const prev = residentSettings.budget / 2 ** 20;
  residentSettings.budget = Math.min(mb, MAX_MB) * 2 ** 20;
  return prev;
}

/** Turns the NaN fill of given-back memory on or off (tests); returns the previous setting. */
export function setResidentPoison(on: boolean): boolean {
  const prev = residentSettings.poison;
  residentSettings.poison = on;
  return prev;
}

/** Throws when a scope's result is (or holds as `.data`) an array `inScope` says the scope owns. */
export function assertNotEscaped(r: unknown, inScope: (a: Float32Array) => boolean): void {
  const d = r instanceof Float32Array ? r : (r !== null && typeof r === 'object' && (r as { data?: unknown }).data instanceof Float32Array)
    ? (r as { data: Float32Array }).data : null;
  if (d !== null && inScope(d)) {
    throw new EngineError('metaprune: residentScope() returned an array that lives in the scope\'s memory; return a copy (e.g. slice())');
  }
}
