/**
 * Accuracy-vs-speed-up curves without finetuning (method §3.3, §8.3): prune progressively with the
 * global group-L2 (max-normalized) criterion in small steps, classifier ignored, and record test
 * accuracy whenever the MACs speed-up passes the next sample point, up to `maxSpeedup`.
 */
import type { ModelGraph, Params } from '../ir/graph.js';
import type { Dataset } from '../data/index.js';
import { evaluate } from '../train/evaluate.js';
import { Pruner } from '../prune/index.js';

export interface CurvePoint {
  speedup: number;
  acc: number;
}

export interface CurveOptions {
  maxSpeedup: number;
  /** Speed-ups at which accuracy is recorded (the first point is always the unpruned model). */
  points: number[];
  iterativeSteps: number;
  /** As the comparison's pruning (absent = 1, no floor). */
  maxPruningRatio?: number;
}

export const DEFAULT_CURVE: CurveOptions = {
  maxSpeedup: 4,
  points: [1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4],
  iterativeSteps: 200,
};

export function accuracySpeedupCurve(graph: ModelGraph, params: Params, test: Dataset, o: CurveOptions = DEFAULT_CURVE): CurvePoint[] {
  const curve: CurvePoint[] = [{ speedup: 1, acc: evaluate(graph, params, test).acc }];
  const pruner = new Pruner(graph, params, { iterativeSteps: o.iterativeSteps, maxPruningRatio: o.maxPruningRatio });
  let next = 0;
  while (next < o.points.length) {
    if (pruner.currentStep >= pruner.options.iterativeSteps) break; // schedule exhausted
    const s = pruner.step();
    while (next < o.points.length && s.speedup >= o.points[next]) {
      curve.push({ speedup: s.speedup, acc: evaluate(s.graph, s.params, test).acc });
      // Several sample points can be crossed in one step; record the measured speed-up once.
      next++;
      while (next < o.points.length && s.speedup >= o.points[next]) next++;
    }
    if (s.speedup >= o.maxSpeedup) break;
  }
  return curve;
}

/** Mean accuracy of the points with speed-up in [lo, hi]: the "far out" part that selection ranks. */
export function farAccuracy(curve: CurvePoint[], lo = 2, hi = Infinity): number {
  const pts = curve.filter((p) => p.speedup >= lo && p.speedup <= hi);
  return pts.length === 0 ? NaN : pts.reduce((s, p) => s + p.acc, 0) / pts.length;
}
