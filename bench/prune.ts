/**
 * Pruning benchmarks: time to build the dependency graph of ResNet-50 and MobileNetV2 (ImageNet
 * shapes; target < 100 ms) and the wall time of a 200-step progressive prune of CIFAR ResNet-56
 * ([3,32,32]) to 2× MACs, with Torch-Pruning's one-line summaries. Run directly
 * (`node --import tsx bench/prune.ts` or `node dist/bench/prune.js`) to print; `benchPrune()`
 * returns the figures.
 */
import { pathToFileURL } from 'node:url';
import '../src/tensor/backends/index.js';
import { buildModel, modelEntry } from '../src/models/index.js';
import { initParams } from '../src/ir/init.js';
import { countOps, formatCount } from '../src/ir/count.js';
import { buildDependencyGraph, pruneToSpeedup } from '../src/prune/index.js';

export interface DepGraphTiming {
  model: string;
  groups: number;
  /** First build in this process (includes JIT warm-up), ms. */
  firstMs: number;
  /** Median of later builds, ms. */
  medianMs: number;
}

export interface PruneBenchResult {
  depgraph: DepGraphTiming[];
  resnet56: {
    seconds: number;
    steps: number;
    baseMacs: number;
    macs: number;
    speedup: number;
    baseParams: number;
    params: number;
    macsLine: string;
    paramsLine: string;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchPrune(reps = 7): Promise<PruneBenchResult> {
  const depgraph: DepGraphTiming[] = [];
  for (const name of ['resnet50', 'mobilenetv2']) {
    const g = buildModel(name);
    let t = performance.now();
    const dg = buildDependencyGraph(g);
    const firstMs = performance.now() - t;
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      t = performance.now();
      buildDependencyGraph(g);
      times.push(performance.now() - t);
    }
    depgraph.push({ model: name, groups: dg.groups.length, firstMs, medianMs: median(times) });
  }

  const graph = buildModel('resnet56', { inputShape: [3, 32, 32], numClasses: 10 });
  const params = initParams(graph, 0, modelEntry('resnet56').init);
  const t0 = performance.now();
  const r = pruneToSpeedup(graph, params, { speedup: 2, iterativeSteps: 200 });
  const seconds = (performance.now() - t0) / 1000;
  const base = countOps(graph);
  const now = countOps(r.graph);
  return {
    depgraph,
    resnet56: {
      seconds, steps: r.steps, baseMacs: r.baseMacs, macs: r.macs, speedup: r.speedup, baseParams: base.params, params: now.params,
      macsLine: `MACs: ${formatCount(r.baseMacs)} => ${formatCount(r.macs)} (${r.speedup.toFixed(2)}x)`,
      paramsLine: `Params: ${formatCount(base.params)} => ${formatCount(now.params)} (${((100 * now.params) / base.params).toFixed(2)}%)`,
    },
  };
}

export function formatPruneBench(b: PruneBenchResult): string {
  const lines = b.depgraph.map((d) => `dependency graph ${d.model.padEnd(12)} ${String(d.groups).padStart(3)} groups  first ${d.firstMs.toFixed(1).padStart(6)} ms  median ${d.medianMs.toFixed(1).padStart(6)} ms`);
  const r = b.resnet56;
  lines.push(`ResNet-56 [3,32,32] progressive prune to 2x (200-step schedule): ${r.steps} steps in ${r.seconds.toFixed(2)} s`);
  lines.push(r.macsLine, r.paramsLine);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatPruneBench(await benchPrune()));
}
