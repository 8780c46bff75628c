/**
 * Reverse-mode autograd in the micrograd spirit, lifted to tensors. Every recorded op stores its
 * inputs and a vector–Jacobian closure on its output (`Tensor.gradFn`); `backward` walks that graph
 * in reverse topological order. The API is functional (JAX-like): `valueAndGrad(f)(params)`
 * differentiates with respect to fresh leaves that share storage with `params`, so weights produced
 * by another network are differentiated exactly like leaf parameters, and `vjp` pushes a given
 * cotangent through a function (used by meta-training).
 */
import type { Buf } from './kernels.js';
import { Tensor, allocBuf, type GradFn } from './tensor.js';
import { TensorError, fmtShape } from './errors.js';
import { fastFor } from './backends/fast.js';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording anything on the tape (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Attaches a backward closure to `out` when any input requires grad and recording is on.
 * Ops call this once, after computing their output.
 */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradFn['backward']): Tensor {
  if (!gradEnabled) return out;
  let any = false;
  for (const t of inputs) if (t.requiresGrad) { any = true; break; }
  if (!any) return out;
  out.requiresGrad = true;
  out.gradFn = { op, inputs, backward, seq: nodeSeq++ };
  return out;
}

let nodeSeq = 0;

/**
 * Stands in for a node whose backward closure was released: reaching it again is an error, never a
 * silent zero gradient.
 */
function releasedNode(op: string): GradFn {
  return {
    op,
    inputs: [],
    backward: () => {
      throw new TensorError(op, 'the graph of this tensor was released by the valueAndGrad / vjp call that created it; compute it again to differentiate it');
    },
  };
}

/** Placeholder for released entries of the topological order (keeps the array dense). */
const RELEASED = new Tensor(new Float32Array(0), [0]);
const UNRELEASED = Infinity;

function topoOrder(outputs: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS (networks can be deep enough to overflow recursion).
  const stack: [Tensor, number][] = [];
  for (const o of outputs) {
    if (seen.has(o) || !o.requiresGrad) continue;
    seen.add(o);
    stack.push([o, 0]);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [t, i] = top;
      const inputs = t.gradFn?.inputs ?? [];
      if (i < inputs.length) {
        top[1] = i + 1;
        const c = inputs[i];
        if (c.requiresGrad && !seen.has(c)) {
          seen.add(c);
          stack.push([c, 0]);
        }
      } else {
        stack.pop();
        order.push(t);
      }
    }
  }
  return order; // inputs before outputs
}

/**
 * Gradient buffers a backward closure allocated for this call and holds no other reference to
 * (ops mark them with freshGrad). The engine may then let the next closure overwrite one instead of
 * allocating (ReLU / batch-norm backward write their result into their incoming gradient): with
 * hundreds of megabytes of activations alive, every fresh multi-megabyte array costs V8 a scavenge.
 */
const fresh = new WeakSet<Buf>();

/** Marks a gradient a backward closure just allocated and keeps no reference to; returns it. */
export function freshGrad<B extends Buf>(b: B): B {
  fresh.add(b);
  return b;
}

/**
 * Adds g to t's gradient. `owned`: buffers only the engine references (fresh from a closure, handed
 * to one input, or sums made here); an owned first gradient is summed into in place.
 */
function accumulate(grads: Map<Tensor, Buf>, owned: Set<Buf>, t: Tensor, g: Buf, gOwned: boolean): void {
  if (g.length !== t.size) {
    throw new TensorError(t.gradFn?.op ?? 'backward', `gradient has ${g.length} elements, tensor ${fmtShape(t.shape)} has ${t.size}`);
  }
  const prev = grads.get(t);
  if (prev === undefined) {
    grads.set(t, g);
    if (gOwned) owned.add(g);
    return;
  }
  // A first gradient that is not owned may alias a buffer an op (or the caller) holds: never write into it.
  const into = owned.has(prev);
  const fast = fastFor(g.length, prev, g); // long float32 gradients (residual branches)
  let sum: Buf;
  if (fast !== undefined) {
    // same bits as the loop below (a float32 sum computed in double rounds to the float32 sum)
    sum = fast.add(prev as Float32Array, g as Float32Array, into ? prev as Float32Array : undefined);
  } else {
    sum = into ? prev : allocBuf(t.dtype, t.size);
    for (let i = 0; i < sum.length; i++) sum[i] = prev[i] + g[i];
  }
  if (gOwned) owned.delete(g);
  owned.add(sum);
  grads.set(t, sum);
}

/** Whether inGrads[i] is owned once handed to input i: fresh (or g itself, overwritable) and given to no other input. */
function handsOverOwnership(inGrads: readonly (Buf | null | undefined)[], i: number, g: Buf, overwrite: boolean): boolean {
  const gi = inGrads[i]!;
  if (gi === g ? !overwrite : !fresh.has(gi)) return false;
  for (let j = 0; j < inGrads.length; j++) if (j !== i && inGrads[j] === gi) return false;
  return true;
}

/**
 * Back-propagates `cotangents` (one per output, same size) from `outputs` and returns
 * d<cotangent, outputs>/d(wrt) for each tensor in `wrt` (zeros where no path exists).
 * Nodes recorded at or after `releaseFrom` (the recording counter taken before the forward pass) drop
 * their backward closure, and with it the activations it saved, as soon as they have run, like
 * PyTorch without retain_graph: peak memory during backward stays near the forward pass's. Older
 * nodes (an enclosing computation's) are left alone.
 */
export function backward(outputs: readonly Tensor[], cotangents: readonly Buf[], wrt: readonly Tensor[], releaseFrom = UNRELEASED): Buf[] {
  if (outputs.length !== cotangents.length) {
    throw new TensorError('backward', `${outputs.length} outputs but ${cotangents.length} cotangents`);
  }
  const grads = new Map<Tensor, Buf>();
  const owned = new Set<Buf>();
  outputs.forEach((o, i) => {
    if (o.requiresGrad) accumulate(grads, owned, o, cotangents[i], false); // the caller's: never overwritten
  });
  const keep = new Set(wrt);
  const order = topoOrder(outputs);
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = grads.get(t);
    if (g === undefined || t.gradFn === null) continue;
    // g may be overwritten when only the engine holds it and it is not a gradient the caller asked for
    const overwrite = owned.has(g) && !keep.has(t);
    const inGrads = t.gradFn.backward(g, overwrite);
    owned.delete(g);
    if (!keep.has(t)) grads.delete(t); // free as soon as the tape no longer needs it
    const inputs = t.gradFn.inputs;
    if ((t.gradFn.seq ?? -1) >= releaseFrom) {
      // every consumer of t ran already (reverse topological order): nothing needs t's node again
      t.gradFn = releasedNode(t.gradFn.op);
      order[k] = RELEASED;
    }
    for (let i = 0; i < inputs.length; i++) {
      const gi = inGrads[i];
      if (gi !== null && gi !== undefined && inputs[i].requiresGrad) {
        accumulate(grads, owned, inputs[i], gi, handsOverOwnership(inGrads, i, g, overwrite));
      }
    }
  }
  return wrt.map((w) => grads.get(w) ?? allocBuf(w.dtype, w.size));
}

// ---------- functional API over trees of tensors ----------

/** A nested structure of tensors: a tensor, an array of trees or a record of trees. */
export type TensorTree = Tensor | readonly TensorTree[] | { readonly [key: string]: TensorTree };
/**
 * What the functional API accepts: any tree of tensors, including interfaces whose fields are
 * tensors (TypeScript does not let interfaces match an index signature, hence `object`).
 * Non-tensor leaves are rejected at run time.
 */
export type Differentiable = TensorTree | object;

export function treeLeaves(tree: Differentiable): Tensor[] {
  const out: Tensor[] = [];
  const walk = (t: unknown): void => {
    if (t instanceof Tensor) out.push(t);
    else if (Array.isArray(t)) for (const c of t) walk(c);
    else if (t !== null && typeof t === 'object') for (const k of Object.keys(t)) walk((t as Record<string, unknown>)[k]);
    else throw new TensorError('autograd', `expected a tree of tensors, found a leaf of type ${typeof t}`);
  };
  walk(tree);
  return out;
}

/** Rebuilds `tree` with its leaves replaced, in treeLeaves order. */
export function treeUnflatten<T extends Differentiable>(tree: T, leaves: readonly Tensor[]): T {
  let i = 0;
  const walk = (t: unknown): unknown => {
    if (t instanceof Tensor) return leaves[i++];
    if (Array.isArray(t)) return t.map(walk);
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(t as object)) o[k] = walk((t as Record<string, unknown>)[k]);
    return o;
  };
  return walk(tree) as T;
}

export function treeMap<T extends Differentiable>(tree: T, fn: (t: Tensor, i: number) => Tensor): T {
  return treeUnflatten(tree, treeLeaves(tree).map(fn));
}

function traceLeaves<P extends Differentiable>(primals: P): { leaves: Tensor[]; traced: P } {
  const leaves = treeLeaves(primals).map((t) => {
    const l = t.detach();
    l.requiresGrad = true;
    return l;
  });
  return { leaves, traced: treeUnflatten(primals, leaves) };
}

function asOutputs(v: Tensor | readonly Tensor[]): readonly Tensor[] {
  return v instanceof Tensor ? [v] : v;
}

export interface ValueAndGrad<P extends Differentiable, A> {
  value: Tensor;
  grads: P;
  aux: A;
}

/**
 * Returns a function computing f(params) and d f / d params. f must return a scalar tensor
 * (or `[scalar, aux]` via valueAndGradAux).
 */
export function valueAndGrad<P extends Differentiable>(f: (params: P) => Tensor): (params: P) => { value: Tensor; grads: P } {
  return (params: P) => {
    const r = valueAndGradAux((p: P) => [f(p), undefined] as const)(params);
    return { value: r.value, grads: r.grads };
  };
}

/** Like valueAndGrad, for functions that also return auxiliary data (e.g. logits, BN statistics). */
export function valueAndGradAux<P extends Differentiable, A>(
  f: (params: P) => readonly [Tensor, A],
): (params: P) => ValueAndGrad<P, A> {
  return (params: P) => {
    const { leaves, traced } = traceLeaves(params);
    const from = nodeSeq;
    const [value, aux] = f(traced);
    if (value.size !== 1) throw new TensorError('valueAndGrad', `function must return a scalar, got shape ${fmtShape(value.shape)}`);
    const one = allocBuf(value.dtype, 1);
    one[0] = 1;
    const g = backward([value], [one], leaves, from);
    const grads = treeUnflatten(params, g.map((b, i) => new Tensor(b, leaves[i].shape)));
    return { value: value.detach(), grads, aux };
  };
}

/** d f / d params for a scalar-valued f. */
export function grad<P extends Differentiable>(f: (params: P) => Tensor): (params: P) => P {
  const vg = valueAndGrad(f);
  return (params: P) => vg(params).grads;
}

/**
 * Vector–Jacobian product: evaluates f at primals and returns J_fᵀ·cotangent for each primal.
 * `cotangent` matches f's output(s) in shape.
 */
export function vjp<P extends Differentiable>(
  f: (params: P) => Tensor | readonly Tensor[],
  primals: P,
  cotangent: Tensor | readonly Tensor[],
): { value: Tensor[]; grads: P } {
  const { leaves, traced } = traceLeaves(primals);
  const from = nodeSeq;
  const outs = asOutputs(f(traced));
  const cots = asOutputs(cotangent);
  if (outs.length !== cots.length) throw new TensorError('vjp', `${outs.length} outputs but ${cots.length} cotangents`);
  outs.forEach((o, i) => {
    if (o.size !== cots[i].size) {
      throw new TensorError('vjp', `output ${i} has shape ${fmtShape(o.shape)}, cotangent has ${fmtShape(cots[i].shape)}`);
    }
  });
  const g = backward(outs, cots.map((c) => c.data), leaves, from);
  return { value: outs.map((o) => o.detach()), grads: treeUnflatten(primals, g.map((b, i) => new Tensor(b, leaves[i].shape))) };
}
