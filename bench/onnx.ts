/**
 * ONNX benchmarks: export and import time of ResNet-50 (ImageNet shapes, ~100 MB of float32
 * weights), and measured onnxruntime latency speed-up against the MACs speed-up for CIFAR ResNet-56
 * pruned 2× and MobileNetV2 (3×224×224) pruned 1.5×, at batch 1 and 32, with channel counts free
 * (round-to 1) and kept multiples of 8 (onnxruntime's blocked conv kernels favour those). Latency runs are
 * interleaved (unpruned, pruned, unpruned, ...) so background load hits both alike, one intra-op
 * thread by default (stable on small shared machines; METAPRUNE_ORT_THREADS=n to change).
 * Without onnxruntime-node the latency part is skipped with a note. Run directly
 * (`node --import tsx bench/onnx.ts` or `node dist/bench/onnx.js`) to print; `benchOnnx()` returns
 * the text and `benchOnnxFigures()` the numbers.
 */
import { pathToFileURL } from 'node:url';
import '../src/tensor/backends/index.js';
import { buildModel, modelEntry } from '../src/models/index.js';
import { initParams } from '../src/ir/init.js';
import { countOps } from '../src/ir/count.js';
import { pruneToSpeedup } from '../src/prune/index.js';
import { exportOnnx, importOnnx } from '../src/io/onnx/index.js';
import { compareOnnxLatencies, loadOnnxRuntime, onnxRuntimeUnavailableReason, onnxRuntimeVersion } from '../src/io/onnx/runtime.js';

export interface OnnxIoTiming {
  model: string;
  megabytes: number;
  exportMs: number;
  importMs: number;
  /** Import gave back the same graph. */
  roundTrip: boolean;
}

export interface OnnxLatencyRow {
  model: string;
  target: number;
  /** Channel counts kept multiples of this (1 = any). */
  roundTo: number;
  macsSpeedup: number;
  pruneSeconds: number;
  batch: number;
  beforeMs: number;
  afterMs: number;
  latencySpeedup: number;
}

export interface OnnxBenchResult {
  io: OnnxIoTiming;
  runtime: string | null;
  note?: string;
  threads: number;
  latency: OnnxLatencyRow[];
}

function ioTiming(): OnnxIoTiming {
  const g = buildModel('resnet50');
  const p = initParams(g, 0, modelEntry('resnet50').init);
  let t = performance.now();
  const bytes = exportOnnx(g, p);
  const exportMs = performance.now() - t;
  t = performance.now();
  const back = importOnnx(bytes);
  const importMs = performance.now() - t;
  return { model: 'resnet50 [3,224,224]', megabytes: bytes.length / 2 ** 20, exportMs, importMs, roundTrip: JSON.stringify(back.graph) === JSON.stringify(g) };
}

export async function benchOnnxFigures(runs = 20): Promise<OnnxBenchResult> {
  const io = ioTiming();
  const threads = Number(process.env.METAPRUNE_ORT_THREADS ?? 1);
  const ort = await loadOnnxRuntime();
  if (ort === null) return { io, runtime: null, note: `latency skipped: ${onnxRuntimeUnavailableReason() ?? 'onnxruntime-node is not installed'}`, threads, latency: [] };
  const latency: OnnxLatencyRow[] = [];
  const cases: [string, number[], number][] = [['resnet56', [3, 32, 32], 2], ['mobilenetv2', [3, 224, 224], 1.5]];
  for (const [name, inputShape, target] of cases) {
    const g = buildModel(name, { inputShape });
    const p = initParams(g, 0, modelEntry(name).init);
    const before = exportOnnx(g, p);
    for (const roundTo of [1, 8]) {
      const t = performance.now();
      const r = pruneToSpeedup(g, p, { speedup: target, iterativeSteps: 200, roundTo });
      const pruneSeconds = (performance.now() - t) / 1000;
      const macsSpeedup = countOps(g).macs / countOps(r.graph).macs;
      const after = exportOnnx(r.graph, r.params);
      for (const batch of [1, 32]) {
        const [b, a] = await compareOnnxLatencies(ort, [before, after], inputShape, { batch, runs: batch === 1 ? runs * 2 : runs, session: { intraOpNumThreads: threads } });
        latency.push({
          model: `${name} [${inputShape.join(',')}]`, target, roundTo, macsSpeedup, pruneSeconds, batch, beforeMs: b.medianMs, afterMs: a.medianMs, latencySpeedup: b.medianMs / a.medianMs,
        });
      }
    }
  }
  return { io, runtime: onnxRuntimeVersion(ort), threads, latency };
}

export function formatOnnxBench(b: OnnxBenchResult): string {
  const lines = [
    `${b.io.model}: ${b.io.megabytes.toFixed(1)} MB ONNX; export ${b.io.exportMs.toFixed(0)} ms, import ${b.io.importMs.toFixed(0)} ms` +
      ` (round trip ${b.io.roundTrip ? 'gives the same graph' : 'CHANGED THE GRAPH'})`,
  ];
  if (b.runtime === null) {
    lines.push(b.note ?? 'latency skipped');
    return lines.join('\n');
  }
  lines.push(`onnxruntime-node ${b.runtime}, ${b.threads} intra-op thread(s), median of interleaved runs:`);
  lines.push(`  ${'model'.padEnd(24)} ${'target'.padStart(6)} ${'round-to'.padStart(8)} ${'MACs x'.padStart(7)} ${'batch'.padStart(5)} ${'before ms'.padStart(10)} ${'after ms'.padStart(9)} ${'latency x'.padStart(9)}`);
  for (const r of b.latency) {
    lines.push(
      `  ${r.model.padEnd(24)} ${r.target.toFixed(1).padStart(6)} ${String(r.roundTo).padStart(8)} ${r.macsSpeedup.toFixed(2).padStart(7)} ${String(r.batch).padStart(5)} ` +
        `${r.beforeMs.toFixed(2).padStart(10)} ${r.afterMs.toFixed(2).padStart(9)} ${r.latencySpeedup.toFixed(2).padStart(9)}`,
    );
  }
  const seen = new Set<string>();
  for (const r of b.latency) {
    const k = `${r.model} ${r.roundTo}`;
    if (seen.has(k)) continue;
    seen.add(k);
    lines.push(`  (${r.model}, round-to ${r.roundTo}: 200-step prune to ${r.target}x took ${r.pruneSeconds.toFixed(1)} s)`);
  }
  return lines.join('\n');
}

/** The ONNX section of `npm run bench`: the formatted figures. */
export async function benchOnnx(): Promise<string> {
  return formatOnnxBench(await benchOnnxFigures());
}


if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchOnnx());
}
