/**
 * `metaprune study` (issue #16): does Meta Pruning pay off after finetuning, and how sure are we?
 *
 * A study is a set of cells, each the pipeline's settings with some keys changed (one axis at a time
 * around a base setting, a full factorial, or named points). Every cell runs zoo → meta-train →
 * select → a paired comparison on `models` held-out data models × `seeds` seeds, so each
 * (model, seed) pair gives one difference (a)−(b) and one (a)−(c) per target. Cells share what
 * their settings share: zoos, metanetworks and selections live in content-addressed directories.
 *
 * Data hygiene: choices (which cell is the best regime) use validation accuracies; the test split
 * is read once per cell for the table.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readZoo } from './zoo.js';
import { runJobs, defaultWorkers } from './workers.js';
import { metanetPath } from './metatrain.js';
import { pairedCompareJobs, runCompareJob, sortRows, ARMS, type Arm, type CompareRow } from './compare.js';
import { bootstrapCI, bootstrapGroupsCI, meanStd, type Interval, type MeanStd } from './stats.js';
import { comparisonConfig, dataRecipe, metanetInputs, queueTarget, runPipeline, type PipelineConfig, type PipelineHooks, type StageLayout } from './pipeline.js';
import { loadRecipe } from './workers.js';
import { reuseStage } from '../io/run-dir.js';
import { ValueError } from '../errors.js';

export interface StudySettings {
  /** Config keys (dotted) → values to try. */
  grid: Record<string, unknown[]>;
  /** 'one-at-a-time': the base plus each value of each key alone; 'factorial': every combination. */
  mode: 'one-at-a-time' | 'factorial';
  /** Extra named cells: name → { dotted key: value }. */
  points: Record<string, Record<string, unknown>>;
  /** Held-out data models per cell (each gets every seed). */
  models: number;
  seeds: number;
  /** Bootstrap resamples for the confidence intervals. */
  bootstrap: number;
  confidence: number;
}

export interface StudyConfig extends PipelineConfig {
  study: StudySettings;
}

export const DEFAULT_STUDY_SETTINGS: StudySettings = {
  grid: {}, mode: 'one-at-a-time', points: {}, models: 5, seeds: 3, bootstrap: 10_000, confidence: 0.95,
};

export interface StudyCell {
  name: string;
  overrides: Record<string, unknown>;
}

/** Paired differences of one arm against the metanetwork arm at one target. */
export interface DiffStat extends MeanStd {
  /** Percentile-bootstrap CI over (model, seed) pairs. */
  ci: Interval;
  /** The same resampling whole held-out models (their seeds are not independent). */
  ciModels: Interval;
}

export interface ArmStat {
  arm: Arm;
  /** Test accuracy after finetuning, right after pruning, and validation accuracy after finetuning. */
  final: MeanStd;
  pruned: MeanStd;
  finalVal: MeanStd;
}

export interface TargetResult {
  target: number;
  arms: ArmStat[];
  /** (a)−(b) and (a)−(c), test accuracy after finetuning, in accuracy units (0.01 = 1 pt). */
  vsPruneOnly: DiffStat;
  vsSparse: DiffStat;
  /** The same before finetuning (right after pruning). */
  vsPruneOnlyPruned: DiffStat;
  vsSparsePruned: DiffStat;
  /** Validation-split (a)−(b) after finetuning: what regime choices are made on. */
  vsPruneOnlyVal: MeanStd;
}

export interface CellResult {
  name: string;
  overrides: Record<string, unknown>;
  chosenEpoch: number;
  reg: number;
  seconds: number;
  targets: TargetResult[];
  rows: CompareRow[];
}

export interface StudyResult {
  cells: CellResult[];
  /** The cell with the highest mean validation (a)−(b) over targets, and that mean. */
  bestOnValidation: { name: string; meanValDiff: number } | null;
}

export interface StudyHooks extends PipelineHooks {
  cell?(c: StudyCell, index: number, total: number): void;
  cellDone?(r: CellResult): void;
}

/** Sets a dotted key of a config copy; the key must exist and keep its kind of value. */
export function withOverrides<T extends object>(base: T, overrides: Record<string, unknown>): T {
  const out = structuredClone(base) as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    const path = key.split('.');
    let node: Record<string, unknown> = out;
    for (let i = 0; i < path.length - 1; i++) {
      const next = node[path[i]];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) throw new ValueError(`study: '${key}' is not a config key ('${path.slice(0, i + 1).join('.')}' is not a section)`);
      node = next as Record<string, unknown>;
    }
    const leaf = path[path.length - 1];
    if (!(leaf in node)) throw new ValueError(`study: '${key}' is not a config key`);
    const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
    if (kind(node[leaf]) !== kind(value)) throw new ValueError(`study: '${key}' expects ${kind(node[leaf])}, got ${kind(value)} ${JSON.stringify(value)}`);
    node[leaf] = structuredClone(value);
  }
  return out as T;
}

function valueAt(cfg: object, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], cfg);
}

/** The cells of a study: base first, then the grid's cells, then the named points. */
export function studyCells(cfg: StudyConfig): StudyCell[] {
  const s = cfg.study;
  const cells: StudyCell[] = [{ name: 'base', overrides: {} }];
  const keys = Object.keys(s.grid);
  const label = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
  if (s.mode === 'one-at-a-time') {
    for (const k of keys) {
      const baseValue = JSON.stringify(valueAt(cfg, k));
      for (const v of s.grid[k]) if (JSON.stringify(v) !== baseValue) cells.push({ name: label({ [k]: v }), overrides: { [k]: v } });
    }
  } else {
    let combos: Record<string, unknown>[] = [{}];
    for (const k of keys) combos = combos.flatMap((c) => s.grid[k].map((v) => ({ ...c, [k]: v })));
    for (const c of combos) {
      const changed = Object.fromEntries(Object.entries(c).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(valueAt(cfg, k))));
      if (Object.keys(changed).length > 0) cells.push({ name: label(changed), overrides: changed });
    }
  }
  for (const [name, overrides] of Object.entries(s.points)) cells.push({ name, overrides });
  const seen = new Set<string>();
  for (const c of cells) {
    if (seen.has(c.name)) throw new ValueError(`study: two cells are named '${c.name}'`);
    seen.add(c.name);
  }
  return cells;
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);
}

/** Content-addressed stage directories: cells with the same zoo (or metanetwork, selection) share it. */
export function studyLayout(out: string, cfg: PipelineConfig, compareKey: unknown): StageLayout {
  const zooKey = { zoo: cfg.zoo, data: dataRecipe(cfg) };
  const metaKey = { ...zooKey, meta: cfg.meta };
  const selKey = { ...metaKey, select: cfg.select, prune: cfg.prune };
  return {
    zoo: join(out, 'zoo', hashOf(zooKey)),
    meta: join(out, 'meta', hashOf(metaKey)),
    selection: join(out, 'selection', `${hashOf(selKey)}.json`),
    // cells whose comparison settings coincide (e.g. a tolerance that picks the same epoch) share it
    compare: join(out, 'compare', `${hashOf(compareKey)}.json`),
  };
}

function diffStat(groups: number[][], s: StudySettings, seed: number): DiffStat {
  const flat = groups.flat();
  const o = { resamples: s.bootstrap, confidence: s.confidence, seed };
  return { ...meanStd(flat), ci: bootstrapCI(flat, o), ciModels: bootstrapGroupsCI(groups, o) };
}

/** Per-target statistics of one cell's paired rows. */
export function cellStatistics(rows: CompareRow[], s: StudySettings): TargetResult[] {
  const targets = [...new Set(rows.map((r) => r.target))].sort((a, b) => a - b);
  const models = [...new Set(rows.map((r) => r.model))].sort((a, b) => a - b);
  return targets.map((target, ti) => {
    const at = rows.filter((r) => r.target === target);
    const get = (arm: Arm, model: number, seed: number) => at.find((r) => r.arm === arm && r.model === model && r.seed === seed);
    // per model, the seeds' differences (only pairs where both arms ran)
    const diffs = (other: Arm, field: 'accFinal' | 'accPruned' | 'accFinalVal') => models.map((m) =>
      at.filter((r) => r.arm === 'metanet' && r.model === m).flatMap((a) => {
        const b = get(other, m, a.seed);
        return b === undefined ? [] : [(a[field] ?? NaN) - (b[field] ?? NaN)];
      }),
    ).filter((g) => g.length > 0);
    const arms = ARMS.map((arm) => {
      const rs = at.filter((r) => r.arm === arm);
      return { arm, final: meanStd(rs.map((r) => r.accFinal)), pruned: meanStd(rs.map((r) => r.accPruned)), finalVal: meanStd(rs.map((r) => r.accFinalVal ?? NaN)) };
    });
    return {
      target, arms,
      vsPruneOnly: diffStat(diffs('prune-only', 'accFinal'), s, 4 * ti),
      vsSparse: diffStat(diffs('sparse-train', 'accFinal'), s, 4 * ti + 1),
      vsPruneOnlyPruned: diffStat(diffs('prune-only', 'accPruned'), s, 4 * ti + 2),
      vsSparsePruned: diffStat(diffs('sparse-train', 'accPruned'), s, 4 * ti + 3),
      vsPruneOnlyVal: meanStd(diffs('prune-only', 'accFinalVal').flat()),
    };
  });
}

/** The cell whose mean validation (a)−(b) over targets is highest (never chosen on test data). */
export function bestOnValidation(cells: CellResult[]): StudyResult['bestOnValidation'] {
  let best: StudyResult['bestOnValidation'] = null;
  for (const c of cells) {
    const v = c.targets.reduce((s, t) => s + t.vsPruneOnlyVal.mean, 0) / c.targets.length;
    if (Number.isFinite(v) && (best === null || v > best.meanValDiff)) best = { name: c.name, meanValDiff: v };
  }
  return best;
}

function checkStudy(cfg: StudyConfig): void {
  const s = cfg.study;
  if (!Number.isInteger(s.models) || s.models < 1) throw new ValueError(`study.models must be a positive integer, got ${s.models}`);
  if (!Number.isInteger(s.seeds) || s.seeds < 1) throw new ValueError(`study.seeds must be a positive integer, got ${s.seeds}`);
  if (s.mode !== 'one-at-a-time' && s.mode !== 'factorial') throw new ValueError(`study.mode must be 'one-at-a-time' or 'factorial', got '${String(s.mode)}'`);
  for (const [k, vs] of Object.entries(s.grid)) {
    if (!Array.isArray(vs) || vs.length === 0) throw new ValueError(`study.grid['${k}'] must be a non-empty list of values`);
  }
}

/** Runs (or resumes) every cell of the study; the cells' results are cached in out/cells/. */
export async function runStudy(cfg: StudyConfig, hooks: StudyHooks = {}): Promise<StudyResult> {
  checkStudy(cfg);
  const cells = studyCells(cfg);
  // validate every cell's settings before any work starts
  const configs = cells.map((c) => {
    const cellCfg = withOverrides(cfg, c.overrides) as StudyConfig;
    if (cellCfg.zoo.heldOut < cfg.study.models) {
      throw new ValueError(`study cell '${c.name}': study.models=${cfg.study.models} held-out models are needed but zoo.heldOut=${cellCfg.zoo.heldOut}`);
    }
    return cellCfg;
  });
  const results: CellResult[] = [];
  for (const [i, c] of cells.entries()) {
    hooks.cell?.(c, i, cells.length);
    const cellCfg = configs[i];
    const stages = studyLayout(cfg.out, cellCfg, null);
    const p = await runPipeline(cellCfg, hooks, 'select', stages);
    const chosen = p.selection!.chosen;
    const compareCfg = { ...comparisonConfig(cellCfg, p.reg!), seeds: cfg.study.seeds };
    const heldOut = p.zoo.entries.filter((e) => e.split === 'heldout').slice(0, cfg.study.models);
    const key = { zoo: cellCfg.zoo, data: dataRecipe(cellCfg), meta: cellCfg.meta, chosen, compare: compareCfg, models: heldOut.map((e) => e.index) };
    const layout = studyLayout(cfg.out, cellCfg, key);
    const value = await reuseStage(layout.compare, key, metanetInputs([metanetPath(layout.meta, chosen)]), async () => {
      const t0 = performance.now();
      const recipe = dataRecipe(cellCfg);
      const workers = cellCfg.workers > 0 ? cellCfg.workers : defaultWorkers();
      // loaded only if a job runs in this thread (worker threads and queue workers load their own)
      let data: ReturnType<typeof loadRecipe> | undefined;
      const zoo = readZoo(layout.zoo);
      const rows = (await runJobs('compare', pairedCompareJobs(zoo, heldOut, metanetPath(layout.meta, chosen), compareCfg), {
        workers, recipe, queue: queueTarget(cellCfg, hooks),
        inProcess: (j) => {
          data ??= loadRecipe(recipe);
          return runCompareJob(j, data.train, data.test, data.val);
        },
        onResult: (rs: CompareRow[]) => rs.forEach((r) => hooks.compareRow?.(r)), stop: hooks.stop,
      })).flat();
      return { rows: sortRows(rows), seconds: (performance.now() - t0) / 1000 };
    });
    const r: CellResult = {
      name: c.name, overrides: c.overrides, chosenEpoch: chosen, reg: compareCfg.reg, seconds: value.seconds,
      targets: cellStatistics(value.rows, cfg.study), rows: value.rows,
    };
    results.push(r);
    hooks.cellDone?.(r);
  }
  return { cells: results, bestOnValidation: bestOnValidation(results) };
}

const pct = (x: number) => (100 * x).toFixed(2);
const ci = (i: Interval) => `[${pct(i.lo)}, ${pct(i.hi)}]`;

/** The study's table as text: per cell and target, the paired differences in points with 95 % CIs. */
export function formatStudyTable(r: StudyResult, confidence = 0.95): string {
  const c = Math.round(100 * confidence);
  const lines = [`cell / target: (a)−(b) and (a)−(c) after finetuning, test accuracy in pt, mean [${c} % bootstrap CI over pairs]; n pairs; before finetuning (a)−(b)`];
  for (const cell of r.cells) {
    lines.push(`${cell.name}  (epoch ${cell.chosenEpoch}, ${(cell.seconds / 60).toFixed(1)} min)`);
    for (const t of cell.targets) {
      lines.push(`  ${`${t.target}×`.padStart(4)}  a−b ${pct(t.vsPruneOnly.mean).padStart(6)} ${ci(t.vsPruneOnly.ci).padEnd(16)}  a−c ${pct(t.vsSparse.mean).padStart(6)} ${ci(t.vsSparse.ci).padEnd(16)}  n=${t.vsPruneOnly.n}  no-ft a−b ${pct(t.vsPruneOnlyPruned.mean).padStart(6)}`);
    }
  }
  if (r.bestOnValidation) lines.push(`best regime on validation (mean (a)−(b) over targets): ${r.bestOnValidation.name} (${pct(r.bestOnValidation.meanValDiff)} pt)`);
  return lines.join('\n');
}
