/** Functional forward pass of an IR graph on the engine. */
import type { Tensor } from '../tensor/tensor.js';
import { GraphError, indexGraph, type GraphIndex, type ModelGraph, type NodeDef, type Params } from './graph.js';
import { forwardNode, type ForwardMode } from './ops.js';

export interface ForwardOptions extends Partial<ForwardMode> {
  /** Also return these intermediate outputs by node name. */
  capture?: readonly string[];
  /**
   * Let a ReLU or a two-input add write into the storage of an input nothing else reads, and run a
   * batch norm whose only reader is a ReLU as one fused op (default true): saves an allocation per
   * such node and a pass per fused pair, same values bit for bit. Off only to compare.
   */
  inPlace?: boolean;
}

/** Ops whose backward never reads their own output: a sole consumer may overwrite it. */
const OVERWRITABLE: ReadonlySet<NodeDef['op']> = new Set(['conv2d', 'batchnorm', 'add', 'linear']);

/** Whether n is a batch norm whose only reader is a ReLU, and nobody else sees its own output. */
function fusesRelu(n: NodeDef, index: GraphIndex, output: string, capture: ReadonlySet<string>): boolean {
  if (n.op !== 'batchnorm' || n.name === output || capture.has(n.name)) return false;
  const cs = index.consumers.get(n.name)!;
  return cs.length === 1 && cs[0]!.op === 'relu';
}

/**
 * Index of the input of n (a relu or a two-input add) that n may overwrite, or -1: one whose only
 * consumer is n, that is neither the graph output nor captured, and whose producer's backward does
 * not read it (relu's and add's own backward never read their inputs).
 */
function inPlaceInput(n: NodeDef, index: GraphIndex, output: string, capture: ReadonlySet<string>): number {
  if (n.op !== 'relu' && !(n.op === 'add' && n.inputs.length === 2 && n.inputs[0] !== n.inputs[1])) return -1;
  return n.inputs.findIndex((i) => index.consumers.get(i)!.length === 1 && i !== output && !capture.has(i) &&
    OVERWRITABLE.has(index.byName.get(i)!.op));
}

/**
 * Runs the graph on input x [N, ...inputShape]. Intermediates are released as soon as their last
 * consumer has run. BN in training mode updates running statistics in place. ReLUs and residual
 * adds write into an input only they read, and a BN read only by a ReLU runs fused with it (see
 * ForwardOptions.inPlace).
 */
export function forward(g: ModelGraph, params: Params, x: Tensor, opts: ForwardOptions = {}): Tensor {
  return forwardWithCapture(g, params, x, opts).output;
}

export function forwardWithCapture(g: ModelGraph, params: Params, x: Tensor, opts: ForwardOptions = {}): { output: Tensor; captured: Map<string, Tensor> } {
  const mode: ForwardMode = { training: opts.training ?? false };
  const index = indexGraph(g);
  const { consumers } = index;
  const remaining = new Map<string, number>();
  for (const n of g.nodes) remaining.set(n.name, consumers.get(n.name)!.length);
  const values = new Map<string, Tensor>();
  const captured = new Map<string, Tensor>();
  const capture = new Set(opts.capture ?? []);
  const optimize = opts.inPlace !== false;
  const fused = new Set<string>(); // relu nodes whose batch norm already applied them
  for (const n of g.nodes) {
    const xs = n.op === 'input' ? [x] : n.inputs.map((i) => values.get(i)!);
    let y: Tensor;
    try {
      if (fused.has(n.name)) {
        y = xs[0]; // the batch norm before it returned relu(bn(x))
      } else {
        const fuse = optimize && fusesRelu(n, index, g.output, capture);
        if (fuse) fused.add(index.consumers.get(n.name)![0]!.name);
        y = forwardNode(n, xs, params, mode, optimize ? inPlaceInput(n, index, g.output, capture) : -1, fuse);
      }
    } catch (e) {
      if (e instanceof GraphError) throw e;
      throw new GraphError(`model '${g.name}', node '${n.name}' (${n.op}): ${(e as Error).message}`);
    }
    values.set(n.name, y);
    if (capture.has(n.name)) captured.set(n.name, y);
    for (const i of n.inputs) {
      const r = remaining.get(i)! - 1;
      remaining.set(i, r);
      if (r === 0 && i !== g.output) values.delete(i);
    }
  }
  return { output: values.get(g.output)!, captured };
}
