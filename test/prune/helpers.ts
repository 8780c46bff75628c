/** Shared helpers of the pruning tests (not a test file). */
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { Tensor, randn } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { forward } from '../../src/ir/forward.js';
import { initParams, cloneParams } from '../../src/ir/init.js';
import { inputNode, type ModelGraph, type Params } from '../../src/ir/graph.js';
import { buildModel, modelEntry, type ModelOptions } from '../../src/models/index.js';
import { applyPruning, buildDependencyGraph, prunableGroups, type Group } from '../../src/prune/index.js';

/** A model with seeded weights and random (non-default) BN affine parameters and running statistics. */
export function makeModel(name: string, o: ModelOptions = {}, seed = 1): { graph: ModelGraph; params: Params } {
  const graph = buildModel(name, o);
  const params = initParams(graph, seed, modelEntry(name).init);
  randomizeBn(graph, params, seed + 100);
  return { graph, params };
}

export function randomizeBn(graph: ModelGraph, params: Params, seed: number): void {
  const rng = new Rng(seed);
  for (const n of graph.nodes) {
    if (n.op !== 'batchnorm') continue;
    const set = (role: string, f: () => number) => {
      const t = params[`${n.name}.${role}`];
      if (t !== undefined) for (let i = 0; i < t.size; i++) t.data[i] = f();
    };
    set('weight', () => rng.uniform(0.5, 1.5));
    set('bias', () => rng.uniform(-0.3, 0.3));
    set('running_mean', () => rng.uniform(-0.5, 0.5));
    set('running_var', () => rng.uniform(0.5, 2));
  }
}

export function randomInput(graph: ModelGraph, batch: number, seed: number): Tensor {
  return randn([batch, ...inputNode(graph).shape], new Rng(seed));
}

/** Zeroes what a group would remove for group channels ks: out-slices (weights and biases) and BN γ and β. */
export function zeroChannels(params: Params, group: Group, ks: readonly number[]): Params {
  const out = cloneParams(params);
  for (const s of group.slices) {
    if (s.kind === 'in' || (s.role !== 'weight' && s.role !== 'bias')) continue;
    const t = out[s.param];
    const n = t.shape[s.axis];
    let inner = 1;
    for (let d = s.axis + 1; d < t.rank; d++) inner *= t.shape[d];
    const outer = t.size / (n * inner);
    for (const k of ks) {
      for (const idx of s.indices[k]) {
        for (let o = 0; o < outer; o++) t.data.fill(0, (o * n + idx) * inner, (o * n + idx + 1) * inner);
      }
    }
  }
  return out;
}

export function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.data) m = Math.max(m, Math.abs(v));
  return m;
}

export function assertClose(actual: Tensor, expected: Tensor, rel: number, what: string): void {
  assert.deepEqual([...actual.shape], [...expected.shape], `${what}: shapes`);
  const scale = Math.max(1, maxAbs(expected));
  let worst = 0;
  for (let i = 0; i < actual.size; i++) worst = Math.max(worst, Math.abs(actual.data[i] - expected.data[i]));
  assert.ok(worst <= rel * scale, `${what}: max |diff| ${worst} > ${rel}·${scale}`);
}

/**
 * The central hazard check: for each listed group (by root) remove the given group channels by
 * surgery, and compare with the full model whose removed channels were zeroed, in eval mode.
 * Returns the pruned model.
 */
export function checkZeroEqualsPruned(
  graph: ModelGraph,
  params: Params,
  pick: (g: Group, rng: Rng) => number[],
  opts: { batch?: number; seed?: number; rel?: number } = {},
): { graph: ModelGraph; params: Params; removedGroups: number } {
  const rng = new Rng(opts.seed ?? 7);
  const dg = buildDependencyGraph(graph);
  const groups = prunableGroups(dg);
  let zeroed = params;
  const removal: Record<string, number[]> = {};
  let removedGroups = 0;
  for (const g of groups) {
    const ks = pick(g, rng);
    if (ks.length === 0) continue;
    zeroed = zeroChannels(zeroed, g, ks);
    removal[g.root] = ks.flatMap((k) => g.rootChannels[k]);
    removedGroups++;
  }
  const pruned = applyPruning(graph, params, removal, dg);
  const x = randomInput(graph, opts.batch ?? 2, (opts.seed ?? 7) + 1);
  const [full, zero, small] = noGrad(() => [
    forward(graph, params, x, { training: false }),
    forward(graph, zeroed, x, { training: false }),
    forward(pruned.graph, pruned.params, x, { training: false }),
  ]);
  assertClose(small, zero, opts.rel ?? 1e-5, `${graph.name}: pruned vs zeroed full model`);
  // The check must not be vacuous: zeroing really changed the output.
  let moved = 0;
  for (let i = 0; i < full.size; i++) moved = Math.max(moved, Math.abs(full.data[i] - zero.data[i]));
  assert.ok(moved > 1e-4, `${graph.name}: zeroing the removed channels did not change the output (${moved})`);
  return { ...pruned, removedGroups };
}

/** A random subset of about `frac` of a group's channels (at least one, never all). */
export function randomSubset(frac: number): (g: Group, rng: Rng) => number[] {
  return (g, rng) => {
    if (g.size < 2) return [];
    const n = Math.min(g.size - 1, Math.max(1, Math.round(g.size * frac)));
    const idx = Array.from({ length: g.size }, (_, i) => i);
    rng.shuffle(idx);
    return idx.slice(0, n).sort((a, b) => a - b);
  };
}
