/**
 * Group-sparsity regularizer of Torch-Pruning v1.5/1.6 `GroupNormPruner.regularize(model, alpha, bias)`:
 * per group, u = sqrt(group importance) with the default L2 / mean / max importance and
 * γ_c = α^((max u − u_c)/(max u − min u)) (no gradient; all-equal or NaN importance → γ = 1);
 * the gradient added is reg·γ_c·W for every out-slice, in-slice and BN weight of channel c (BN and
 * conv biases only with `bias: true`). It is the gradient of
 *   R = (reg/2)·Σ_g Σ_slices Σ_c sg(γ_{g,c})·‖slice_c‖²,
 * which `regularizerLoss` builds from engine ops so it records on the autograd tape.
 * Both forms come from the same per-parameter coefficient tensors M (Σ of γ over the slices an
 * element belongs to): ∇R = reg·M⊙W and R = (reg/2)·Σ M⊙W².
 */
import { Tensor, allocBuf, scalar } from '../tensor/tensor.js';
import { add, mul, scale, square } from '../tensor/ops/elementwise.js';
import { sum } from '../tensor/ops/reduce.js';
import type { ModelGraph, Params } from '../ir/graph.js';
import { PruneError } from './errors.js';
import { getGroups, type Group, type GroupOptions } from './depgraph.js';
import { DEFAULT_IMPORTANCE, type Importance } from './importance.js';

export interface RegularizerOptions {
  /** Strength (Torch-Pruning's `reg`; Meta Pruning meta-trains with 10). */
  reg: number;
  /** Maximum decay ratio between the weakest and strongest channel of a group (default 16). */
  alpha?: number;
  /** Also decay biases (Torch-Pruning's `bias`, default false). */
  bias?: boolean;
  /** Importance whose square root drives γ (default: L2 / mean / max). */
  importance?: Importance;
  /** Precomputed γ per group (e.g. frozen for finite differences); computed from params otherwise. */
  gammas?: readonly (Float64Array | null)[];
}

/** γ per group channel (null for groups without scorable parameters, which are skipped). */
export function regularizerGammas(groups: readonly Group[], params: Params, o: { alpha?: number; importance?: Importance } = {}): (Float64Array | null)[] {
  const alpha = o.alpha ?? 16;
  const imps = (o.importance ?? DEFAULT_IMPORTANCE).scores(groups, params);
  return imps.map((imp) => {
    if (imp === null) return null;
    const u = imp.map(Math.sqrt);
    let max = -Infinity, min = Infinity, nan = false;
    for (const v of u) {
      if (Number.isNaN(v)) nan = true;
      if (v > max) max = v;
      if (v < min) min = v;
    }
    const gamma = new Float64Array(u.length).fill(1);
    if (nan || !(max > min)) return gamma;
    for (let c = 0; c < u.length; c++) gamma[c] = Math.pow(alpha, (max - u[c]) / (max - min));
    return gamma;
  });
}

/** Per parameter: the coefficient of every element (Σ of γ over the slices containing it). */
export function regularizerCoefficients(groups: readonly Group[], params: Params, o: Omit<RegularizerOptions, 'reg'> = {}): Map<string, Float64Array> {
  const gammas = o.gammas ?? regularizerGammas(groups, params, o);
  if (gammas.length !== groups.length) throw new PruneError(`regularizer: ${gammas.length} γ arrays for ${groups.length} groups`);
  // Per (param, axis): coefficient of each index along the axis.
  const perAxis = new Map<string, Map<number, Float64Array>>();
  groups.forEach((g, gi) => {
    const gamma = gammas[gi];
    if (gamma === null) return;
    if (gamma.length !== g.size) throw new PruneError(`regularizer: group '${g.root}' has ${g.size} channels, γ has ${gamma.length}`);
    for (const s of g.slices) {
      const take = s.role === 'weight' || (s.role === 'bias' && (o.bias ?? false) && s.kind !== 'in');
      if (!take) continue;
      const t = params[s.param];
      if (t === undefined) throw new PruneError(`regularizer: group '${g.root}' needs parameter '${s.param}'`);
      let axes = perAxis.get(s.param);
      if (axes === undefined) perAxis.set(s.param, (axes = new Map()));
      let coef = axes.get(s.axis);
      if (coef === undefined) axes.set(s.axis, (coef = new Float64Array(t.shape[s.axis])));
      for (let k = 0; k < g.size; k++) for (const i of s.indices[k]) coef[i] += gamma[k];
    }
  });
  const out = new Map<string, Float64Array>();
  for (const [name, axes] of perAxis) {
    const t = params[name];
    const m = new Float64Array(t.size);
    for (const [axis, coef] of axes) {
      const n = t.shape[axis];
      let inner = 1;
      for (let d = axis + 1; d < t.rank; d++) inner *= t.shape[d];
      const outer = t.size / (n * inner);
      for (let o2 = 0; o2 < outer; o2++) {
        for (let j = 0; j < n; j++) {
          const c = coef[j];
          if (c === 0) continue;
          const base = (o2 * n + j) * inner;
          for (let r = 0; r < inner; r++) m[base + r] += c;
        }
      }
    }
    out.set(name, m);
  }
  return out;
}

function groupsOrDefault(graph: ModelGraph, groups: readonly Group[] | undefined, o: GroupOptions = {}): readonly Group[] {
  return groups ?? getGroups(graph, o);
}

/** ∂R/∂param = reg·γ·W for every regularized parameter (fresh tensors, the parameters' dtype). */
export function regularizerGrad(graph: ModelGraph, params: Params, groups: readonly Group[] | undefined, o: RegularizerOptions): Record<string, Tensor> {
  const coefs = regularizerCoefficients(groupsOrDefault(graph, groups), params, o);
  const out: Record<string, Tensor> = {};
  for (const [name, m] of coefs) {
    const t = params[name];
    const g = allocBuf(t.dtype, t.size);
    for (let i = 0; i < g.length; i++) g[i] = o.reg * m[i] * t.data[i];
    out[name] = new Tensor(g, t.shape);
  }
  return out;
}

/**
 * Adds the regularizer's gradient to `grads` (replacing each touched entry by a fresh sum, never
 * writing into buffers the tape may share). Usable as the train loop's `hooks.extraGrad`.
 */
export function addRegularizerGrad(grads: Record<string, Tensor>, graph: ModelGraph, params: Params, groups: readonly Group[] | undefined, o: RegularizerOptions): void {
  const rg = regularizerGrad(graph, params, groups, o);
  for (const name of Object.keys(rg)) {
    const r = rg[name];
    const g = grads[name];
    if (g === undefined) {
      grads[name] = r;
      continue;
    }
    if (g.size !== r.size) throw new PruneError(`regularizer: gradient of '${name}' has ${g.size} elements, the parameter ${r.size}`);
    const s = allocBuf(g.dtype, g.size);
    for (let i = 0; i < s.length; i++) s[i] = g.data[i] + r.data[i];
    grads[name] = new Tensor(s, g.shape);
  }
}

/**
 * A `hooks.extraGrad` for the train loop: groups computed once from `graph` (its structure does not
 * change during training), γ recomputed from the current weights at every step.
 */
export function regularizerHook(graph: ModelGraph, o: RegularizerOptions & GroupOptions): (params: Params, grads: Record<string, Tensor>) => void {
  const groups = getGroups(graph, o);
  return (params, grads) => addRegularizerGrad(grads, graph, params, groups, o);
}

/**
 * R = (reg/2)·Σ_g Σ_slices Σ_c sg(γ_{g,c})·‖slice_c‖² as a scalar on the tape: its gradient with
 * respect to (possibly generated) parameters equals `regularizerGrad`.
 */
export function regularizerLoss(graph: ModelGraph, params: Params, groups: readonly Group[] | undefined, o: RegularizerOptions): Tensor {
  const coefs = regularizerCoefficients(groupsOrDefault(graph, groups), params, o);
  let total: Tensor | null = null;
  for (const [name, m] of coefs) {
    const t = params[name];
    const mt = new Tensor(allocBuf(t.dtype, t.size), t.shape);
    mt.data.set(m);
    const term = sum(mul(square(t), mt));
    total = total === null ? term : add(total, term);
  }
  if (total === null) {
    const first = Object.values(params)[0];
    return scalar(0, first?.dtype ?? 'float32');
  }
  return scale(total, o.reg / 2);
}
