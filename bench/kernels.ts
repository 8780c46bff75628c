/**
 * Kernel micro-benchmarks at one thread: GEMM GFLOP/s (ts vs wasm) and ResNet-20 3x3 convolutions
 * (forward, input gradient, filter gradient) at batch 64. Run directly (`node --import tsx bench/kernels.ts`
 * or `node dist/bench/kernels.js`) to print a table; `benchKernels()` returns the rows.
 */
import { bestTime as time, randF32, rng } from './util.js';
import { pathToFileURL } from 'node:url';
import type { ConvGeom, KernelMap } from '../src/tensor/kernels.js';
import { tsKernels } from '../src/tensor/backends/ts/kernels.js';
import { wasmAvailable, wasmKernels } from '../src/tensor/backends/wasm/index.js';
import { getThreads, setThreads } from '../src/tensor/backends/index.js';

export interface Row {
  /** What was measured, e.g. 'gemm 512^3' or 'conv fwd 16ch@32x32 N=64'. */
  name: string;
  backend: 'ts' | 'wasm';
  /** Best wall time of one call in milliseconds. */
  ms: number;
  gflops: number;
}

function backends(): [Row['backend'], Partial<KernelMap>][] {
  const out: [Row['backend'], Partial<KernelMap>][] = [['ts', tsKernels]];
  if (wasmAvailable()) out.push(['wasm', wasmKernels]);
  return out;
}

/** Measured at 1 thread (the wasm kernels would use every core otherwise; perf.ts has the thread table). */
export async function benchKernels(): Promise<Row[]> {
  const before = getThreads();
  setThreads(1);
  try {
    return measureKernels();
  } finally {
    setThreads(before);
  }
}

function measureKernels(): Row[] {
  const rows: Row[] = [];
  const r = rng(1234);

  // GEMM
  for (const n of [512, 1024]) {
    const a = randF32(n * n, r), b = randF32(n * n, r), c = new Float32Array(n * n);
    const flops = 2 * n * n * n;
    for (const [be, k] of backends()) {
      if (n === 1024 && be === 'ts') continue;
      const mm = k.matmul!;
      const ms = time(() => mm(a, b, c, n, n, n, false, false, false), be === 'ts' ? 600 : 400);
      rows.push({ name: `gemm ${n}^3`, backend: be, ms, gflops: flops / ms / 1e6 });
    }
  }

  // ResNet-20 3x3 convolutions, stride 1, pad 1, C = O, batch 64.
  for (const [C, S] of [[16, 32], [32, 16], [64, 8]] as [number, number][]) {
    const N = 64;
    const g: ConvGeom = {
      N, C, H: S, W: S, O: C, KH: 3, KW: 3, OH: S, OW: S,
      strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1,
    };
    const x = randF32(N * C * S * S, r), w = randF32(C * C * 9, r), dy = randF32(N * C * S * S, r);
    const out = new Float32Array(N * C * S * S), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
    const flops = 2 * N * C * S * S * C * 9;
    const tag = `${C}ch@${S}x${S} N=${N}`;
    for (const [be, k] of backends()) {
      const budget = be === 'ts' ? 900 : 400;
      const fwd = k.conv2d!, bdx = k.conv2dBackwardInput!, bdw = k.conv2dBackwardFilter!;
      const t1 = time(() => fwd(x, w, out, g), budget);
      rows.push({ name: `conv fwd ${tag}`, backend: be, ms: t1, gflops: flops / t1 / 1e6 });
      const t2 = time(() => bdx(dy, w, dx, g), budget);
      rows.push({ name: `conv dX  ${tag}`, backend: be, ms: t2, gflops: flops / t2 / 1e6 });
      const t3 = time(() => bdw(x, dy, dw, g), budget);
      rows.push({ name: `conv dW  ${tag}`, backend: be, ms: t3, gflops: flops / t3 / 1e6 });
    }
  }
  return rows;
}

export function formatRows(rows: Row[]): string {
  const lines = [`${'benchmark'.padEnd(30)} ${'backend'.padEnd(7)} ${'ms'.padStart(10)} ${'GFLOP/s'.padStart(9)}`];
  for (const row of rows) {
    lines.push(`${row.name.padEnd(30)} ${row.backend.padEnd(7)} ${row.ms.toFixed(2).padStart(10)} ${row.gflops.toFixed(2).padStart(9)}`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  const rows = await benchKernels();
  console.log(formatRows(rows));
  console.log(`(total ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
