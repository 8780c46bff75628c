/**
 * Group importance, as Torch-Pruning's importance criteria (v1.5/1.6):
 * - `magnitudeImportance` = `GroupMagnitudeImportance(p, group_reduction, normalizer, bias)`: per
 *   member slice local_imp = Σ|w|^p over the slice (conv/linear out rows, in columns — the whole
 *   spatial block for flatten→linear and the full column for grouped convs — and |γ|^p of affine
 *   BNs; biases only with `bias: true`), reduced over members per group channel, then normalized
 *   within the group;
 * - `bnScaleImportance` = `BNScaleImportance` (|γ| of the BNs only, mean reduction, mean normalizer);
 * - `taylorImportance` = `GroupTaylorImportance` (|w·∂L/∂w| summed over the slice);
 * - `randomImportance` = `RandomImportance` (seeded).
 * Scores are per group channel (higher = more important); `null` means the group has no scorable
 * parameters (Torch-Pruning returns None and skips the group).
 */
import type { ModelGraph, Params } from '../ir/graph.js';
import type { Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';
import { axisView } from '../tensor/ops/shape.js';
import { PruneError } from './errors.js';
import type { Group, GroupSlice } from './depgraph.js';
import type { SliceKind } from './rules.js';

export type GroupReduction = 'mean' | 'max' | 'sum' | 'first' | 'prod';
export type Normalizer = 'none' | 'mean' | 'max' | 'sum' | 'standardization' | 'standarization' | 'gaussian';

export interface ImportanceContext {
  /** The model the groups belong to. */
  graph?: ModelGraph;
  /** Pruning step (seeds random importance; 0 when not pruning). */
  step?: number;
}

export interface Importance {
  readonly name: string;
  /** One score array per group (length group.size), or null when the group has nothing to score. */
  scores(groups: readonly Group[], params: Params, ctx?: ImportanceContext): (Float64Array | null)[];
}

/** Normalizes one group's importance exactly as Torch-Pruning's `_normalize`. */
export function normalizeImportance(imp: Float64Array, normalizer: Normalizer): Float64Array {
  const n = imp.length;
  const out = new Float64Array(imp);
  if (normalizer === 'none' || n === 0) return out;
  // torch's max/min propagate NaN.
  let sum = 0, max = -Infinity, min = Infinity;
  for (let i = 0; i < n; i++) {
    const v = imp[i];
    sum += v;
    if (Number.isNaN(v)) max = min = NaN;
    else if (!Number.isNaN(max)) {
      if (v > max) max = v;
      if (v < min) min = v;
    }
  }
  switch (normalizer) {
    case 'sum':
      for (let i = 0; i < n; i++) out[i] = imp[i] / sum;
      return out;
    case 'mean':
      for (let i = 0; i < n; i++) out[i] = imp[i] / (sum / n);
      return out;
    case 'max':
      for (let i = 0; i < n; i++) out[i] = imp[i] / max;
      return out;
    case 'standardization':
    case 'standarization':
      for (let i = 0; i < n; i++) out[i] = (imp[i] - min) / (max - min + 1e-8);
      return out;
    case 'gaussian': {
      const mean = sum / n;
      let q = 0;
      for (let i = 0; i < n; i++) q += (imp[i] - mean) ** 2;
      const std = Math.sqrt(q / (n - 1)); // torch.std is unbiased
      for (let i = 0; i < n; i++) out[i] = (imp[i] - mean) / (std + 1e-8);
      return out;
    }
    default:
      throw new PruneError(`importance: unknown normalizer '${String(normalizer)}' (none, mean, max, sum, standardization, gaussian)`);
  }
}

/**
 * Reduces member importances (one array of per-channel values per member, `null` entries for
 * channels a member does not touch) exactly as Torch-Pruning's `_reduce`: scatter-add for
 * sum/mean (mean divides by the number of members), running max (from −99999), product, or the
 * first member.
 */
export function reduceImportance(members: readonly (readonly (number | null)[])[], size: number, reduction: GroupReduction): Float64Array {
  const out = new Float64Array(size);
  if (reduction === 'max') out.fill(-99999);
  else if (reduction === 'prod') out.fill(1);
  members.forEach((m, mi) => {
    for (let k = 0; k < size; k++) {
      const v = m[k];
      if (v === null) continue;
      switch (reduction) {
        case 'sum':
        case 'mean':
          out[k] += v;
          break;
        case 'max':
          out[k] = Math.max(out[k], v);
          break;
        case 'prod':
          out[k] *= v;
          break;
        case 'first':
          if (mi === 0) out[k] = v;
          break;
        default:
          throw new PruneError(`importance: unknown group reduction '${String(reduction)}' (mean, max, sum, first, prod)`);
      }
    }
  });
  if (reduction === 'mean') for (let k = 0; k < size; k++) out[k] /= members.length;
  return out;
}

/** Per index along `axis`, Σ values[e] over all other axes (values: per element, same layout as t). */
function axisSums(t: Tensor, axis: number, values: ArrayLike<number>, transform?: (x: number) => number): Float64Array {
  const { outer, n, inner } = axisView(t.shape, axis);
  const out = new Float64Array(n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const base = (o * n + j) * inner;
      let s = 0;
      if (transform === undefined) for (let r = 0; r < inner; r++) s += values[base + r];
      else for (let r = 0; r < inner; r++) s += transform(values[base + r]);
      out[j] += s;
    }
  }
  return out;
}

/** Per index along `axis`, Σ|w|^p over all other axes, with tight loops for p = 1 and 2. */
function powAxisSums(t: Tensor, axis: number, p: number): Float64Array {
  const d = t.data;
  if (p === 2) {
    const { outer, n, inner } = axisView(t.shape, axis);
    const out = new Float64Array(n);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < n; j++) {
        const base = (o * n + j) * inner;
        let s = 0;
        for (let r = 0; r < inner; r++) {
          const v = d[base + r];
          s += v * v;
        }
        out[j] += s;
      }
    }
    return out;
  }
  return axisSums(t, axis, d, p === 1 ? Math.abs : (x) => Math.pow(Math.abs(x), p));
}

/** Which slices are importance members: weights of conv/linear (out, in) and affine BN, biases on request. */
function isMember(s: GroupSlice, kinds: readonly SliceKind[], bias: boolean): boolean {
  if (!kinds.includes(s.kind)) return false;
  if (s.role === 'weight') return true;
  if (s.role === 'bias') return bias && s.kind !== 'in';
  return false;
}

function param(params: Params, s: GroupSlice, root: string): Tensor {
  const t = params[s.param];
  if (t === undefined) throw new PruneError(`group '${root}': missing parameter '${s.param}'`);
  return t;
}

/**
 * Shared scorer: per member slice, per index along the slice axis, a sum over the other axes
 * (cached per parameter and axis), summed over the indices of each group channel.
 */
function sliceScorer(params: Params, indexSums: (name: string, t: Tensor, axis: number) => Float64Array): (s: GroupSlice, root: string) => (number | null)[] {
  const sums = new Map<string, Float64Array>();
  return (s, root) => {
    const key = `${s.param}#${s.axis}`;
    let a = sums.get(key);
    if (a === undefined) {
      a = indexSums(s.param, param(params, s, root), s.axis);
      sums.set(key, a);
    }
    const arr = a;
    return s.indices.map((l) => {
      if (l.length === 0) return null;
      let v = 0;
      for (const i of l) v += arr[i];
      return v;
    });
  };
}

export interface MagnitudeOptions {
  /** Norm exponent (default 2). */
  p?: number;
  /** Default 'mean'. */
  groupReduction?: GroupReduction;
  /** Default 'max' (Meta Pruning's `group_l2_norm_max_normalizer`; Torch-Pruning's own default is 'mean'). */
  normalizer?: Normalizer;
  /** Also score biases (Torch-Pruning's `bias`, default false). */
  bias?: boolean;
  /** Slice kinds scored (Torch-Pruning's target_types), default all: conv/linear out, in and BN. */
  targets?: readonly SliceKind[];
}

const ALL_KINDS: readonly SliceKind[] = ['out', 'in', 'bn'];

/** Torch-Pruning's GroupMagnitudeImportance. Default: L2, mean reduction, max normalizer. */
export function magnitudeImportance(o: MagnitudeOptions = {}): Importance {
  const p = o.p ?? 2, reduction = o.groupReduction ?? 'mean', normalizer = o.normalizer ?? 'max';
  const bias = o.bias ?? false, kinds = o.targets ?? ALL_KINDS;
  return {
    name: `magnitude(p=${p}, ${reduction}, ${normalizer})`,
    scores(groups, params) {
      const score = sliceScorer(params, (_n, t, axis) => powAxisSums(t, axis, p));
      return groups.map((g) => {
        const members = g.slices.filter((s) => isMember(s, kinds, bias)).map((s) => score(s, g.root));
        if (members.length === 0) return null;
        return normalizeImportance(reduceImportance(members, g.size, reduction), normalizer);
      });
    },
  };
}

/** The default criterion of Meta Pruning: group L2 magnitude, mean over members, max-normalized. */
export const DEFAULT_IMPORTANCE: Importance = magnitudeImportance();

/** Torch-Pruning's BNScaleImportance: |γ| of the group's BNs (mean reduction, mean normalizer by default). */
export function bnScaleImportance(o: { groupReduction?: GroupReduction; normalizer?: Normalizer } = {}): Importance {
  const imp = magnitudeImportance({ p: 1, groupReduction: o.groupReduction ?? 'mean', normalizer: o.normalizer ?? 'mean', targets: ['bn'] });
  return { name: 'bn-scale', scores: imp.scores };
}

export interface TaylorOptions {
  /** ∂L/∂param for the model being scored, or a function computing them for the current model. */
  grads: Params | ((graph: ModelGraph | undefined, params: Params) => Params);
  groupReduction?: GroupReduction;
  /** Default 'mean' (Torch-Pruning's default for GroupTaylorImportance). */
  normalizer?: Normalizer;
  /** |Σ w·g| per slice index instead of Σ|w·g| (Torch-Pruning's `multivariable`). */
  multivariable?: boolean;
  bias?: boolean;
}

/** Torch-Pruning's GroupTaylorImportance: first-order Taylor |w·∂L/∂w| over the group's slices. */
export function taylorImportance(o: TaylorOptions): Importance {
  const reduction = o.groupReduction ?? 'mean', normalizer = o.normalizer ?? 'mean', bias = o.bias ?? false;
  return {
    name: 'taylor',
    scores(groups, params, ctx = {}) {
      const grads = typeof o.grads === 'function' ? o.grads(ctx.graph, params) : o.grads;
      const products = new Map<string, Float64Array>();
      const score = sliceScorer(params, (name, t, axis) => {
        let e = products.get(name);
        if (e === undefined) {
          const g = grads[name];
          if (g === undefined || g.size !== t.size) throw new PruneError(`taylor importance: missing or mis-shaped gradient for '${name}'`);
          e = new Float64Array(t.size);
          for (let i = 0; i < e.length; i++) e[i] = o.multivariable ? t.data[i] * g.data[i] : Math.abs(t.data[i] * g.data[i]);
          products.set(name, e);
        }
        const sums = axisSums(t, axis, e);
        if (o.multivariable) for (let i = 0; i < sums.length; i++) sums[i] = Math.abs(sums[i]);
        return sums;
      });
      return groups.map((g) => {
        const members = g.slices.filter((s) => isMember(s, ALL_KINDS, bias)).map((s) => score(s, g.root));
        if (members.length === 0) return null;
        return normalizeImportance(reduceImportance(members, g.size, reduction), normalizer);
      });
    },
  };
}

/** Torch-Pruning's RandomImportance (uniform [0, 1) per channel), seeded by (seed, step, group id). */
export function randomImportance(o: { seed?: number } = {}): Importance {
  const seed = o.seed ?? 0;
  return {
    name: 'random',
    scores(groups, _params, ctx = {}) {
      return groups.map((g) => {
        const rng = new Rng((seed * 1000003 + (ctx.step ?? 0) * 7919 + g.id * 104729) >>> 0);
        const out = new Float64Array(g.size);
        for (let k = 0; k < g.size; k++) out[k] = rng.next();
        return out;
      });
    },
  };
}

/** Importance of a list of groups with the default (or given) criterion. */
export function groupImportance(groups: readonly Group[], params: Params, importance: Importance = DEFAULT_IMPORTANCE, ctx?: ImportanceContext): (Float64Array | null)[] {
  return importance.scores(groups, params, ctx);
}

/** Importance criteria by the names the CLI and configs use. */
export const IMPORTANCE_NAMES = ['l2', 'l1', 'bn-scale', 'random'] as const;
export type ImportanceName = (typeof IMPORTANCE_NAMES)[number];

/** The criterion called `name` (l2 = Meta Pruning's default: L2, mean reduction, max normalizer). */
export function importanceByName(name: string, seed = 0): Importance {
  switch (name) {
    case 'l2': return magnitudeImportance({ p: 2 });
    case 'l1': return magnitudeImportance({ p: 1 });
    case 'bn-scale': return bnScaleImportance();
    case 'random': return randomImportance({ seed });
    default: throw new PruneError(`importance '${name}': choose ${IMPORTANCE_NAMES.join(', ')}`);
  }
}
