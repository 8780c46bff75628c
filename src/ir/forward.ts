/** Functional forward pass of an IR graph on the engine. */
import type { Tensor } from '../tensor/tensor.js';
import { GraphError, indexGraph, type ModelGraph, type Params } from './graph.js';
import { forwardNode, type ForwardMode } from './ops.js';

export interface ForwardOptions extends Partial<ForwardMode> {
  /** Also return these intermediate outputs by node name. */
  capture?: readonly string[];
}

/**
 * Runs the graph on input x [N, ...inputShape]. Intermediates are released as soon as their last
 * consumer has run. BN in training mode updates running statistics in place.
 */
export function forward(g: ModelGraph, params: Params, x: Tensor, opts: ForwardOptions = {}): Tensor {
  return forwardWithCapture(g, params, x, opts).output;
}

export function forwardWithCapture(g: ModelGraph, params: Params, x: Tensor, opts: ForwardOptions = {}): { output: Tensor; captured: Map<string, Tensor> } {
  const mode: ForwardMode = { training: opts.training ?? false };
  const { consumers } = indexGraph(g);
  const remaining = new Map<string, number>();
  for (const n of g.nodes) remaining.set(n.name, consumers.get(n.name)!.length);
  const values = new Map<string, Tensor>();
  const captured = new Map<string, Tensor>();
  const capture = new Set(opts.capture ?? []);
  for (const n of g.nodes) {
    const xs = n.op === 'input' ? [x] : n.inputs.map((i) => values.get(i)!);
    let y: Tensor;
    try {
      y = forwardNode(n, xs, params, mode);
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
