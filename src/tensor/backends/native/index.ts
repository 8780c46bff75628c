/**
 * Optional native backend (float32): the `metaprune-native` N-API addon (native/, C + OpenBLAS, and
 * oneDNN for the convolutions when it was built with it) computes matmul, the three convolution
 * kernels, the batch-norm kernels and the relu / add / batch-norm fast paths in place on the
 * caller's arrays; pooling is the wasm backend's. Float64 inputs go to the `ts` reference kernels.
 *
 * The addon is an optional dependency built at install time; when it is missing (no compiler, no
 * OpenBLAS) this module registers nothing and `METAPRUNE_BACKEND=native` falls back with a notice
 * (backends/index.ts). The kernels' thread count (setThreads in backends/index.ts) is the number of
 * threads the addon's parallel parts run on: OpenMP's team when it was built with oneDNN, else its
 * own thread pool; OpenBLAS itself runs single-threaded (see blasThreads).
 */
import { EngineError } from '../../errors.js';
import { createRequire } from 'node:module';
import type { Buf, ConvGeom, KernelMap } from '../../kernels.js';
import { registerKernels } from '../../registry.js';
import { allFloat32, registerFastOps, type FastOps } from '../fast.js';
import { tsKernels } from '../ts/kernels.js';
import { getThreads, wasmAvailable, wasmKernels } from '../wasm/index.js';
import { assertNotEscaped, residentSettings } from '../resident.js';

/** The addon's exports (native/src/addon.c). */
export interface NativeAddon {
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number,
    transA: boolean, transB: boolean, accumulate: boolean): void;
  conv2d(x: Float32Array, w: Float32Array, out: Float32Array, geom: Int32Array): void;
  conv2dBackwardInput(dy: Float32Array, w: Float32Array, dx: Float32Array, geom: Int32Array): void;
  conv2dBackwardFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geom: Int32Array): void;
  /** Both gradients (null: not wanted); with oneDNN, dy is reordered into its layout once for both. */
  conv2dBackward(dy: Float32Array, w: Float32Array, x: Float32Array, dx: Float32Array | null, dw: Float32Array | null,
    geom: Int32Array): void;
  /** Batch-norm kernels (the KernelMap ones, float32); sums in double, split over channels. */
  channelMoments(x: Float32Array, mean: Float32Array, variance: Float32Array, N: number, C: number, HW: number): void;
  channelAffine(x: Float32Array, mean: Float32Array, scale: Float32Array, shift: Float32Array, out: Float32Array,
    N: number, C: number, HW: number): void;
  channelBackwardSums(dy: Float32Array, x: Float32Array, mean: Float32Array, invstd: Float32Array, sumDy: Float32Array,
    sumDyXhat: Float32Array, N: number, C: number, HW: number): void;
  /** dx = ((x − mean)·k2 + k3) + k1·dy, each step rounded to float32 (the batch-norm op's fallback loops). */
  bnBackwardInput(dy: Float32Array, x: Float32Array, mean: Float32Array, k1: Float32Array, k2: Float32Array, k3: Float32Array,
    dx: Float32Array, N: number, C: number, HW: number): void;
  /** out = relu(a) (op 0), a > 0 ? b : 0 (op 1), a + b (op 2), over out.length elements. */
  elementwise(op: number, a: Float32Array, b: Float32Array | null, out: Float32Array): void;
  /** OpenBLAS's own thread count. */
  setThreads(n: number): void;
  getThreads(): number;
  /** Threads (the caller's included) the addon's pool splits this JS thread's convolutions and large matmuls over. */
  setConvThreads(n: number): void;
  getConvThreads(): number;
  /**
   * Pool threads started so far; openblas_get_parallel() (0 sequential, 1 pthreads, 2 OpenMP); whether
   * parallel parts run on OpenMP's team (oneDNN builds) instead of the pool; calls that ran on more
   * than one thread.
   */
  poolInfo(): { workers: number; parallel: number; openmp: boolean; regions: number };
  /** Convolutions through oneDNN (when compiled in) or the addon's im2col + sgemm path. */
  setDnnl(on: boolean): void;
  getDnnl(): { compiled: boolean; enabled: boolean };
  readonly version: string;
  readonly blas: string;
}

function isAddon(m: unknown): m is NativeAddon {
  const a = m as Partial<Record<keyof NativeAddon, unknown>> | null;
  return a !== null && typeof a === 'object' && typeof a.sgemm === 'function' && typeof a.conv2d === 'function' &&
    typeof a.conv2dBackwardInput === 'function' && typeof a.conv2dBackwardFilter === 'function' &&
    typeof a.conv2dBackward === 'function' &&
    typeof a.setThreads === 'function' && typeof a.setConvThreads === 'function' && typeof a.version === 'string' &&
    typeof a.channelMoments === 'function' && typeof a.channelAffine === 'function' &&
    typeof a.channelBackwardSums === 'function' && typeof a.bnBackwardInput === 'function' && typeof a.elementwise === 'function' &&
    typeof a.setDnnl === 'function' && typeof a.getDnnl === 'function';
}

/** The installed package first, then a development build in native/ (from src/ or dist/src/). */
function load(): NativeAddon | null {
  const req = createRequire(import.meta.url);
  const candidates = [
    'metaprune-native',
    '../../../../native/build/Release/metaprune_native.node',
    '../../../../../native/build/Release/metaprune_native.node',
  ];
  for (const c of candidates) {
    try {
      const m: unknown = req(c);
      if (isAddon(m)) return m;
    } catch {
      // not built / not installed here: try the next place
    }
  }
  return null;
}

/**
 * Loads the addon with OpenMP (which oneDNN and the addon's parallel loops run on) told to spin only
 * briefly before sleeping between parallel regions (GOMP_SPINCOUNT=10000, some 10 µs), unless the
 * user chose a policy (OMP_WAIT_POLICY, GOMP_SPINCOUNT). libgomp's default spins long: as soon as
 * another busy process shares the cores, each region waits for a descheduled spinner. 2-thread
 * ResNet-20 step (bench/perf.ts shapes), idle machine / beside one busy process: default 139 /
 * 440-3100 ms, 10000 spins 138 / 422 ms, passive (no spinning) ~150 / 265 ms. libgomp reads its
 * environment once, when the addon loads it; the variable is removed again afterwards so that
 * child processes (e.g. the benchmark's PyTorch) see the user's environment.
 */
function loadWithOmpPolicy(): NativeAddon | null {
  const env = process.env;
  const choose = env.OMP_WAIT_POLICY === undefined && env.GOMP_SPINCOUNT === undefined;
  if (choose) env.GOMP_SPINCOUNT = '10000';
  try {
    return load();
  } finally {
    if (choose) delete env.GOMP_SPINCOUNT;
  }
}

const addon: NativeAddon | null = process.env.METAPRUNE_NO_NATIVE === '1' ? null : loadWithOmpPolicy();
// METAPRUNE_DNNL=0 keeps the convolutions on the addon's own im2col + sgemm path (comparisons, workarounds)
if (process.env.METAPRUNE_DNNL === '0') addon?.setDnnl(false);

/** True when the addon loaded (and, with wasm, the `native` backend is registered). */
export function nativeAvailable(): boolean {
  return addon !== null && wasmAvailable();
}

/**
 * Addon version, OpenBLAS configuration and whether convolutions run through oneDNN (built with it
 * and not switched off), or null when the addon is absent.
 */
export function nativeInfo(): { version: string; blas: string; dnnl: boolean } | null {
  return addon === null ? null : { version: addon.version, blas: addon.blas, dnnl: addon.getDnnl().enabled };
}

/**
 * Routes the native convolutions through oneDNN (`true`, the default when the addon was built with
 * it) or the addon's own im2col + sgemm path; returns whether oneDNN is in use afterwards.
 */
export function setNativeDnnl(on: boolean): boolean {
  addon?.setDnnl(on);
  return addon?.getDnnl().enabled ?? false;
}

/**
 * Sets the addon's thread count to `n` (oneDNN's and the addon's parallel parts) for calls from
 * this JS thread (each worker thread keeps its own) and keeps OpenBLAS at blasThreads(); no-op
 * without the addon. Called by backends/index.ts setThreads.
 */
export function setNativeThreads(n: number): void {
  addon?.setThreads(blasThreads());
  addon?.setConvThreads(n);
}

/** The addon's thread counts (pool, OpenBLAS), pool threads started and OpenBLAS's threading model. */
export function nativeThreadInfo(): {
  threads: number; blasThreads: number; workers: number; parallel: number; openmp: boolean; regions: number;
} | null {
  if (addon === null) return null;
  return { threads: addon.getConvThreads(), blasThreads: addon.getThreads(), ...addon.poolInfo() };
}

/**
 * OpenBLAS's own thread count: METAPRUNE_BLAS_THREADS, else 1. ResNet-20's convolution GEMMs are
 * small (16-64 rows, a few images per call) and OpenBLAS's per-call thread wake-up and sync made
 * them 3x slower at 2 threads than at 1 on a quiet 2-core machine (bench/perf.ts). Instead the
 * addon splits each convolution over image batches (and large matmuls over rows or columns) across
 * its own pool of `n` threads, each calling OpenBLAS single-threaded; OpenBLAS 0.3.21 (pthreads
 * build) is safe to call concurrently that way (native/tools/blas-stress.c). Setting
 * METAPRUNE_BLAS_THREADS > 1 multiplies the two (n pool threads x OpenBLAS threads each): meant
 * for experiments, with METAPRUNE_THREADS=1.
 */
function blasThreads(): number {
  const v = Number(process.env.METAPRUNE_BLAS_THREADS);
  return Number.isInteger(v) && v >= 1 ? v : 1;
}

function A(): NativeAddon {
  if (addon === null) throw new EngineError('metaprune: native backend is not available');
  return addon;
}

function geomArray(g: ConvGeom): Int32Array {
  return Int32Array.of(g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW, g.strideH, g.strideW, g.padH, g.padW,
    g.dilationH, g.dilationW, g.groups);
}

export const nativeKernels: Partial<KernelMap> = {
  matmul(a, b, c, M, K, N, transA, transB, accumulate) {
    if (!allFloat32(a, b, c)) return tsKernels.matmul(a, b, c, M, K, N, transA, transB, accumulate);
    A().sgemm(a as Float32Array, b as Float32Array, c as Float32Array, M, K, N, transA, transB, accumulate);
  },
  conv2d(x, w, out, g) {
    if (!allFloat32(x, w, out)) return tsKernels.conv2d(x, w, out, g);
    A().conv2d(x as Float32Array, w as Float32Array, out as Float32Array, geomArray(g));
  },
  conv2dBackwardInput(dy, w, dx, g) {
    if (!allFloat32(dy, w, dx)) return tsKernels.conv2dBackwardInput(dy, w, dx, g);
    A().conv2dBackwardInput(dy as Float32Array, w as Float32Array, dx as Float32Array, geomArray(g));
  },
  conv2dBackwardFilter(x, dy, dw, g) {
    if (!allFloat32(x, dy, dw)) return tsKernels.conv2dBackwardFilter(x, dy, dw, g);
    A().conv2dBackwardFilter(x as Float32Array, dy as Float32Array, dw as Float32Array, geomArray(g));
  },
  channelMoments(x, mean, variance, N, C, HW) {
    if (!allFloat32(x, mean, variance)) return tsKernels.channelMoments(x, mean, variance, N, C, HW);
    A().channelMoments(x as Float32Array, mean as Float32Array, variance as Float32Array, N, C, HW);
  },
  channelAffine(x, mean, scale, shift, out, N, C, HW) {
    if (!allFloat32(x, mean, scale, shift, out)) return tsKernels.channelAffine(x, mean, scale, shift, out, N, C, HW);
    A().channelAffine(x as Float32Array, mean as Float32Array, scale as Float32Array, shift as Float32Array,
      out as Float32Array, N, C, HW);
  },
  channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW) {
    if (!allFloat32(dy, x, mean, invstd, sumDy, sumDyXhat)) {
      return tsKernels.channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW);
    }
    A().channelBackwardSums(dy as Float32Array, x as Float32Array, mean as Float32Array, invstd as Float32Array,
      sumDy as Float32Array, sumDyXhat as Float32Array, N, C, HW);
  },
};

const EW_RELU = 0, EW_RELU_BACKWARD = 1, EW_ADD = 2;

/**
 * A Float32Array the kernel will overwrite completely, without the zero-fill of `new Float32Array`
 * (0.41 -> 0.34 ms for a 4 MB relu output; the addon's kernels always write every element).
 */
function uninitF32(n: number): Float32Array {
  const b = Buffer.allocUnsafeSlow(n * 4);
  return new Float32Array(b.buffer, b.byteOffset, n);
}

// ------------------------------------------------------------------------- resident scopes

/**
 * Inside residentScope() the fast paths' outputs come from a pool of arrays that the scope hands
 * back when it ends, for the next step to reuse: no fresh multi-MB buffer per op (each costs an
 * allocation and adds to V8's external-memory pressure, i.e. scavenges). Parameter gradients are
 * never pooled. After each outermost scope the pool keeps only the sizes that scope used (a
 * pipeline finetuning network after network would otherwise hoard every shape it met), and it is
 * dropped once no scope has been open for a few seconds.
 */
const POOL_MIN = 1024;
const free = new Map<number, Float32Array[]>();
const scopes: Float32Array[][] = [];
const inScope = new Set<Float32Array>();
let pooledBytes = 0;
let dropTimer: ReturnType<typeof setTimeout> | null = null;
/** Sizes requested since the outermost scope opened. */
const usedSizes = new Set<number>();

/** An output of n floats the kernel overwrites completely: pooled inside a scope (within budget). */
function outF32(n: number): Float32Array {
  if (scopes.length === 0 || n < POOL_MIN) return uninitF32(n);
  usedSizes.add(n);
  let a = free.get(n)?.pop();
  if (a === undefined) {
    if (pooledBytes + n * 4 > residentSettings.budget) return uninitF32(n);
    a = uninitF32(n);
    pooledBytes += n * 4;
  }
  scopes[scopes.length - 1]!.push(a);
  inScope.add(a);
  return a;
}

function dropPool(): void {
  free.clear();
  pooledBytes = 0;
  dropTimer = null;
}

export function residentScope<T>(fn: () => T): T {
  if (residentSettings.budget === 0) return fn();
  if (dropTimer !== null) {
    clearTimeout(dropTimer);
    dropTimer = null;
  }
  scopes.push([]);
  try {
    const r = fn();
    assertNotEscaped(r, (a) => inScope.has(a));
    return r;
  } finally {
    for (const a of scopes.pop()!) {
      inScope.delete(a);
      if (residentSettings.poison) a.fill(NaN);
      let list = free.get(a.length);
      if (list === undefined) free.set(a.length, (list = []));
      list.push(a);
    }
    if (scopes.length === 0) {
      for (const [n, list] of free) {
        if (usedSizes.has(n)) continue;
        pooledBytes -= n * 4 * list.length;
        free.delete(n);
      }
      usedSizes.clear();
      (dropTimer = setTimeout(dropPool, 3000)).unref();
    }
  }
}

/** Pool state (diagnostics and tests): open scopes, bytes pooled, arrays handed out now. */
export function nativePoolStats(): { scopes: number; bytes: number; inUse: number } {
  return { scopes: scopes.length, bytes: pooledBytes, inUse: inScope.size };
}

export const nativeFastOps: FastOps = {
  relu(x, out = outF32(x.length)) {
    A().elementwise(EW_RELU, x, null, out);
    return out;
  },
  reluBackward(y, g, out = outF32(y.length)) {
    A().elementwise(EW_RELU_BACKWARD, y, g, out);
    return out;
  },
  add(a, b, out = outF32(a.length)) {
    A().elementwise(EW_ADD, a, b, out);
    return out;
  },
  batchNormForward(x, mean, variance, N, C, HW, coefs, relu) {
    A().channelMoments(x, mean, variance, N, C, HW);
    const [scale, shift] = coefs();
    return nativeFastOps.channelAffine(x, mean, scale, shift, N, C, HW, relu);
  },
  channelAffine(x, mean, scale, shift, N, C, HW, relu) {
    const a = A();
    const out = outF32(N * C * HW);
    a.channelAffine(x, mean, scale, shift, out, N, C, HW);
    if (relu === true) a.elementwise(EW_RELU, out, null, out);
    return out;
  },
  batchNormBackward(dy0, x, mean, invstd, sumDy, sumDyXhat, N, C, HW, wantDx, coefs, out, reluOut) {
    const a = A();
    let dy = dy0;
    if (reluOut !== undefined) {
      // the fused ReLU's mask first (into out when allowed), then dx into the masked gradient
      dy = out ?? outF32(N * C * HW);
      a.elementwise(EW_RELU_BACKWARD, reluOut, dy0, dy);
      out = dy;
    }
    a.channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW);
    if (!wantDx) return null;
    const [k1, k2, k3] = coefs();
    const dx = out ?? outF32(N * C * HW);
    a.bnBackwardInput(dy, x, mean, k1, k2, k3, dx, N, C, HW);
    return dx;
  },
  residentScope,
  conv2d(x, w, g) {
    const out = outF32(g.N * g.O * g.OH * g.OW);
    A().conv2d(x, w, out, geomArray(g));
    return out;
  },
  conv2dBackward(dy, w, x, wantDx, wantDw, g) {
    const dx = wantDx ? outF32(g.N * g.C * g.H * g.W) : null;
    const dw = wantDw ? uninitF32(g.O * (g.C / g.groups) * g.KH * g.KW) : null; // a parameter gradient: never pooled
    if (dx !== null || dw !== null) A().conv2dBackward(dy, w, x, dx, dw, geomArray(g));
    return [dx, dw];
  },
};

// The native backend builds on the wasm one (pooling).
if (addon !== null && wasmAvailable()) {
  setNativeThreads(getThreads());
  registerKernels('native', { ...wasmKernels, ...nativeKernels });
  registerFastOps('native', nativeFastOps);
}
