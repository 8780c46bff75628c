/**
 * WebAssembly SIMD backend (float32), multi-threaded. The module (built from kernels.c by
 * tools/build-wasm.sh) is embedded as base64 in kernels-wasm-bytes.ts and instantiated synchronously
 * at import over one shared WebAssembly.Memory.
 *
 * Each call copies its inputs into the module's linear memory (a bump arena reset per call, grown
 * as needed), runs the kernel and copies the outputs back. Float64 inputs are delegated to the
 * `ts` reference kernels. If instantiation fails, a one-line notice goes to stderr and the backend
 * is not registered.
 *
 * Threads: kernels split their work into chunks that the calling (main) thread and up to
 * `threads - 1` worker threads claim dynamically (see kernels.c). Each worker is a
 * `worker_threads` Worker holding its own instance of the module over the same shared memory; it
 * sleeps in memory.atomic.wait between kernels, so the kernels stay synchronous functions.
 * Workers are started on the first kernel call, are unref'd (they never keep the process alive)
 * and, since chunks are claimed dynamically, a worker that is still starting or descheduled never
 * delays a call: the main thread does the remaining work. The thread count defaults to
 * METAPRUNE_THREADS, else `os.availableParallelism()`; `setThreads(1)` gives the single-threaded
 * path. Results do not depend on the thread count (see kernels.c).
 */
import { EngineError } from '../../errors.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Buf, ConvGeom, KernelMap, PoolGeom } from '../../kernels.js';
import { registerKernels } from '../../registry.js';
import { allFloat32, registerFastOps, type FastOps } from '../fast.js';
import { tsKernels } from '../ts/kernels.js';
import { assertNotEscaped, residentSettings } from '../resident.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm-bytes.js';

interface WasmExports {
  __stack_pointer: WebAssembly.Global;
  mp_reset(): void;
  mp_alloc(bytes: number): number;
  mp_alloc_permanent(bytes: number): number;
  mp_arena_mark(): number;
  mp_arena_release(mark: number): void;
  mp_set_threads(n: number): void;
  mp_recover(): void;
  mp_workers_ready(): number;
  mp_worker_chunks(): number;
  mp_matmul(a: number, b: number, c: number, M: number, K: number, N: number, tA: number, tB: number, acc: number): number;
  mp_conv2d(x: number, w: number, out: number, g: number): number;
  mp_conv2d_backward_input(dy: number, w: number, dx: number, g: number): number;
  mp_conv2d_backward_filter(x: number, dy: number, dw: number, g: number): number;
  mp_conv2d_prepare(x: number, w: number, out: number, g: number): number;
  mp_conv2d_backward_input_prepare(dy: number, w: number, dx: number, g: number): number;
  mp_conv2d_backward_filter_prepare(x: number, dy: number, dw: number, g: number): number;
  mp_job_units(job: number): number;
  mp_job_images(job: number, u1: number): number;
  mp_job_start(job: number, u0: number, u1: number): void;
  mp_job_join(job: number): number;
  mp_job_finish(job: number): void;
  mp_max_pool2d(x: number, out: number, argmax: number, g: number): void;
  mp_max_pool2d_backward(dy: number, argmax: number, dx: number, g: number): void;
  mp_avg_pool2d(x: number, out: number, g: number): void;
  mp_avg_pool2d_backward(dy: number, dx: number, g: number): void;
  mp_channel_moments(x: number, mean: number, variance: number, N: number, C: number, HW: number): void;
  mp_channel_affine(x: number, mean: number, scale: number, shift: number, out: number, N: number, C: number, HW: number): void;
  mp_channel_backward_sums(dy: number, x: number, mean: number, invstd: number, sumDy: number, sumDyXhat: number, N: number, C: number, HW: number): void;
  mp_bn_backward_input(dy: number, x: number, mean: number, k1: number, k2: number, k3: number, dx: number, N: number, C: number, HW: number): void;
  mp_elementwise(op: number, a: number, b: number, out: number, n: number): void;
}

/** Most threads (main included) a kernel can use; matches MAXT in kernels.c. */
export const MAX_THREADS = 64;
/** Stack of each worker instance (the main instance uses the linker's stack). */
const WORKER_STACK = 256 * 1024;

let wasm: WasmExports | null = null;
let wasmModule: WebAssembly.Module | null = null;
let memory: WebAssembly.Memory | null = null;
try {
  const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
  wasmModule = new WebAssembly.Module(bytes);
  // 16 MiB to start (grown on demand); the maximum matches the module's import.
  memory = new WebAssembly.Memory({ initial: 256, maximum: 65535, shared: true });
  const inst = new WebAssembly.Instance(wasmModule, { env: { memory } });
  wasm = inst.exports as unknown as WasmExports;
  wasm.mp_reset();
} catch (e) {
  wasm = null;
  process.stderr.write(`metaprune: wasm backend unavailable (${e instanceof Error ? e.message : String(e)}); using ts kernels\n`);
}

/** True when the WebAssembly module instantiated (and the `wasm` backend is registered). */
export function wasmAvailable(): boolean {
  return wasm !== null;
}

function W(): WasmExports {
  if (wasm === null) throw new EngineError('metaprune: wasm backend is not available');
  return wasm;
}

// ------------------------------------------------------------------------- threads

/** Parses METAPRUNE_THREADS (a positive integer); default: every core. */
function threadsFromEnv(): number {
  const cores = Math.max(1, Math.min(MAX_THREADS, availableParallelism()));
  const v = process.env.METAPRUNE_THREADS;
  if (v === undefined || v.trim() === '') return cores;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`metaprune: METAPRUNE_THREADS='${v}' is not a positive integer; using ${cores}\n`);
    return cores;
  }
  return Math.min(n, MAX_THREADS);
}

let threads = 1;
/** Workers by thread id - 1; null once a worker has failed. */
const workers: (Worker | null)[] = [];
let workersBroken = false;

/**
 * Worker body (CommonJS, run with `eval`): instantiates the module over the shared memory with its
 * own stack and enters the wait/work loop, which never returns.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
(function () {
  const { module, memory, tid, stackTop } = workerData;
  let ex;
  try {
    ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
    ex.__stack_pointer.value = stackTop;
  } catch (e) {
    return; // never joins: the calling thread does all chunks
  }
  try {
    ex.mp_worker_main(tid);
  } catch (e) {
    ex.mp_worker_crashed();
    throw e;
  }
})();
`;

function startWorkers(): void {
  if (workersBroken || wasm === null || wasmModule === null || memory === null) return;
  while (workers.length < threads - 1) {
    const tid = workers.length + 1;
    const base = wasm.mp_alloc_permanent(WORKER_STACK);
    if (base === 0) return;
    let wk: Worker;
    try {
      wk = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: wasmModule, memory, tid, stackTop: base + WORKER_STACK },
        // no loaders or flags of the parent (e.g. --import tsx): the worker runs plain JS
        execArgv: [],
        stdout: false,
        stderr: false,
        name: `metaprune-wasm-${tid}`,
      });
    } catch (e) {
      workersBroken = true;
      process.stderr.write(`metaprune: could not start wasm worker threads (${e instanceof Error ? e.message : String(e)}); running single-threaded\n`);
      return;
    }
    wk.unref();
    wk.on('error', (e) => {
      workers[tid - 1] = null;
      process.stderr.write(`metaprune: wasm worker ${tid} failed (${e instanceof Error ? e.message : String(e)})\n`);
    });
    workers.push(wk);
  }
}

/**
 * Sets the number of threads wasm kernels use (1 = single-threaded; capped at MAX_THREADS). Extra
 * workers start on the next kernel call; surplus ones just stay asleep.
 */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new EngineError(`metaprune: thread count must be a positive integer, got ${n}`);
  threads = Math.min(n, MAX_THREADS);
  wasm?.mp_set_threads(threads);
}

/** Threads wasm kernels use (main included). */
export function getThreads(): number {
  return threads;
}

/** Worker threads started so far (for diagnostics and tests). */
export function startedWorkers(): number {
  return workers.filter((w) => w !== null).length;
}

export interface WasmThreadStats {
  /** Threads kernels use (main included). */
  threads: number;
  /** Worker threads created / waiting for work. */
  started: number;
  ready: number;
  /** Work chunks run by worker threads since startup. */
  workerChunks: number;
}

export function wasmThreadStats(): WasmThreadStats {
  return {
    threads,
    started: startedWorkers(),
    ready: wasm?.mp_workers_ready() ?? 0,
    workerChunks: wasm?.mp_worker_chunks() ?? 0,
  };
}

/**
 * Starts the worker threads now (they otherwise start on the first kernel call) and resolves once
 * `threads - 1` of them wait for work, or after `timeoutMs` (false). Kernels never need this;
 * benchmarks and tests use it so that measured calls run on every thread.
 */
export async function wasmThreadsReady(timeoutMs = 10000): Promise<boolean> {
  if (wasm === null) return false;
  if (threads > 1 && workers.length < threads - 1) startWorkers();
  const t0 = Date.now();
  while (wasm.mp_workers_ready() < Math.min(threads - 1, startedWorkers())) {
    if (Date.now() - t0 > timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return wasm.mp_workers_ready() >= threads - 1;
}

if (wasm !== null) setThreads(threadsFromEnv());

// ------------------------------------------------------------------------- per-call arena

function begin(): WasmExports {
  const w = W();
  // (inside a resident scope new worker stacks would land in memory the scope gives back)
  if (threads > 1 && workers.length < threads - 1 && scopeMarks.length === 0) startWorkers();
  w.mp_reset();
  return w;
}

function alloc(w: WasmExports, bytes: number): number {
  const p = w.mp_alloc(bytes);
  if (p === 0 && bytes > 0) throw new EngineError(`metaprune: wasm memory exhausted (requested ${bytes} bytes)`);
  return p;
}

/** Every buffer object `memory` has had (growing the memory gives it a new one). */
const wasmBuffers = new WeakSet<ArrayBufferLike>();
let lastBuffer: ArrayBufferLike | null = null;

function buffer(): ArrayBufferLike {
  const b = memory!.buffer;
  if (b !== lastBuffer) {
    wasmBuffers.add(b);
    lastBuffer = b;
  }
  return b;
}

// ------------------------------------------------------------------------- resident scopes

/**
 * Inside residentScope() the fast paths leave their (large) outputs in wasm memory, as views the
 * next kernel reads in place: no copy out of one op and into the next. The blocks are taken with
 * mp_alloc_permanent (below the per-call arena) and all given back when the scope ends.
 */
const scopeMarks: number[] = [];
let residentBytes = 0;
/** Smallest output (floats) worth keeping resident; smaller ones are copied out as before. */
const RESIDENT_MIN = 1024;

/** Wasm address of a (large) float array that lives in wasm memory, else -1. */
function residentPtr(a: Float32Array): number {
  return a.length >= RESIDENT_MIN && wasmBuffers.has(a.buffer) ? a.byteOffset : -1;
}

/** A fresh output of n floats in wasm memory when a scope is open (and within budget), else null. Not during a call. */
function residentF32(n: number): Float32Array | null {
  if (scopeMarks.length === 0 || n < RESIDENT_MIN) return null;
  const bytes = Math.ceil((n * 4) / 64) * 64;
  if (residentBytes + bytes > residentSettings.budget) return null;
  const p = W().mp_alloc_permanent(n * 4);
  if (p === 0) return null;
  residentBytes += bytes;
  return new Float32Array(buffer(), p, n);
}

/**
 * Runs fn with the wasm fast paths' outputs kept in wasm memory, all reclaimed when fn returns
 * (or throws). Arrays created inside must not be used afterwards: copy what you keep. Scopes nest.
 */
export function residentScope<T>(fn: () => T): T {
  if (wasm === null || residentSettings.budget === 0) return fn();
  // worker stacks must sit below the scope's blocks
  if (scopeMarks.length === 0 && threads > 1 && workers.length < threads - 1) startWorkers();
  const w = wasm;
  const mark = w.mp_arena_mark();
  const bytesBefore = residentBytes;
  scopeMarks.push(mark);
  try {
    const r = fn();
    assertNotEscaped(r, (a) => wasmBuffers.has(a.buffer));
    return r;
  } finally {
    scopeMarks.pop();
    if (residentSettings.poison) {
      const top = w.mp_arena_mark();
      if (top > mark) new Float32Array(buffer(), mark, Math.floor((top - mark) / 4)).fill(NaN);
    }
    w.mp_arena_release(mark);
    residentBytes = bytesBefore;
  }
}

/** Resident-scope state (diagnostics and tests): open scopes and bytes they hold. */
export function residentStats(): { scopes: number; bytes: number; budget: number } {
  return { scopes: scopeMarks.length, bytes: residentBytes, budget: residentSettings.budget };
}

/** Pointer to n floats of src in wasm memory: its own when resident, else a fresh copy. */
function inF32(w: WasmExports, src: Float32Array, n: number): number {
  const p = residentPtr(src);
  return p >= 0 ? p : putF32(w, src, n);
}

/** Where a kernel writes n output floats: into dst itself when resident, else into the arena. */
function outPtr(w: WasmExports, dst: Float32Array | null, n: number): number {
  const p = dst === null ? -1 : residentPtr(dst);
  return p >= 0 ? p : alloc(w, n * 4);
}

/** The output written at p (by outPtr): dst (copied into unless it is resident) or a fresh array. */
function outResult(p: number, dst: Float32Array | null, n: number): Float32Array {
  if (dst === null) return takeF32(p, n);
  if (residentPtr(dst) !== p) getF32(p, dst, n);
  return dst;
}

/** Copies the first n elements of src into fresh wasm memory; returns the pointer. */
function putF32(w: WasmExports, src: Float32Array, n: number): number {
  const p = alloc(w, n * 4);
  if (n > 0) new Float32Array(buffer(), p, n).set(n === src.length ? src : src.subarray(0, n));
  return p;
}

function putI32(w: WasmExports, src: Int32Array, n: number): number {
  const p = alloc(w, n * 4);
  if (n > 0) new Int32Array(buffer(), p, n).set(n === src.length ? src : src.subarray(0, n));
  return p;
}

/** Copies n floats at p back into dst (views are re-created: memory may have grown). */
function getF32(p: number, dst: Float32Array, n: number): void {
  if (n > 0) dst.set(new Float32Array(buffer(), p, n));
}

/** A fresh (non-shared) array holding the n floats at p. */
function takeF32(p: number, n: number): Float32Array {
  // new + set beats slice() on a shared buffer (7.2 vs 5.0 GB/s for 4 MB: slice takes V8's slower
  // element-wise path for SharedArrayBuffer views)
  const out = new Float32Array(n);
  out.set(new Float32Array(buffer(), p, n));
  return out;
}

function putInts(w: WasmExports, vals: number[]): number {
  const p = alloc(w, vals.length * 4);
  new Int32Array(buffer(), p, vals.length).set(vals);
  return p;
}

function convGeomPtr(w: WasmExports, g: ConvGeom): number {
  return putInts(w, [g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW, g.strideH, g.strideW, g.padH, g.padW, g.dilationH, g.dilationW, g.groups]);
}

function poolGeomPtr(w: WasmExports, g: PoolGeom): number {
  return putInts(w, [g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.strideH, g.strideW, g.padH, g.padW]);
}

function check(rc: number, what: string): void {
  if (rc === 0) return;
  if (rc === -2) {
    // A worker threw inside a chunk: its work is lost, so this result is unusable. Stop using workers.
    workersBroken = true;
    W().mp_recover();
    setThreads(1);
    throw new EngineError(`metaprune: wasm ${what} failed (a worker thread crashed); continuing single-threaded`);
  }
  throw new EngineError(`metaprune: wasm ${what} failed (out of memory)`);
}

/** Runs a kernel call; after an exception inside it, waits for the workers to leave the aborted job. */
function guarded<T>(fn: (w: WasmExports) => T): T {
  const w = begin();
  try {
    return fn(w);
  } catch (e) {
    w.mp_recover();
    throw e;
  }
}


// ------------------------------------------------------------------------- kernels

/** Element counts of a convolution's input, weight and output. */
function convSizes(g: ConvGeom): { x: number; w: number; y: number } {
  return { x: g.N * g.C * g.H * g.W, w: g.O * (g.C / g.groups) * g.KH * g.KW, y: g.N * g.O * g.OH * g.OW };
}

/** One whole-call convolution export: copies two inputs in, runs it, copies the nOut result out. */
function convCall(what: string, fn: (w: WasmExports) => (a: number, b: number, out: number, g: number) => number,
  a: Buf, nA: number, b: Buf, nB: number, out: Buf, nOut: number, g: ConvGeom): void {
  guarded((w) => {
    const pa = inF32(w, a as Float32Array, nA);
    const pb = inF32(w, b as Float32Array, nB);
    const po = outPtr(w, out as Float32Array, nOut);
    check(fn(w)(pa, pb, po, convGeomPtr(w, g)), what);
    outResult(po, out as Float32Array, nOut);
  });
}

/** A one-array pooling kernel: src (nSrc floats) copied in, dst (nDst floats) copied out. */
function poolCall(fn: (w: WasmExports) => (src: number, dst: number, g: number) => void,
  src: Buf, nSrc: number, dst: Buf, nDst: number, g: PoolGeom): void {
  guarded((w) => {
    const ps = inF32(w, src as Float32Array, nSrc);
    const pd = outPtr(w, dst as Float32Array, nDst);
    fn(w)(ps, pd, poolGeomPtr(w, g));
    outResult(pd, dst as Float32Array, nDst);
  });
}

export const wasmKernels: Partial<KernelMap> = {
  matmul(a, b, c, M, K, N, transA, transB, accumulate) {
    if (!allFloat32(a, b, c)) return tsKernels.matmul(a, b, c, M, K, N, transA, transB, accumulate);
    guarded((w) => {
      const pa = inF32(w, a as Float32Array, M * K);
      const pb = inF32(w, b as Float32Array, K * N);
      const pc = accumulate ? putF32(w, c as Float32Array, M * N) : alloc(w, M * N * 4);
      check(w.mp_matmul(pa, pb, pc, M, K, N, transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0), 'matmul');
      getF32(pc, c as Float32Array, M * N);
    });
  },

  conv2d(x, wt, out, g) {
    if (!allFloat32(x, wt, out)) return tsKernels.conv2d(x, wt, out, g);
    convCall('conv2d', (w) => w.mp_conv2d, x, convSizes(g).x, wt, convSizes(g).w, out, convSizes(g).y, g);
  },

  conv2dBackwardInput(dy, wt, dx, g) {
    if (!allFloat32(dy, wt, dx)) return tsKernels.conv2dBackwardInput(dy, wt, dx, g);
    convCall('conv2dBackwardInput', (w) => w.mp_conv2d_backward_input, dy, convSizes(g).y, wt, convSizes(g).w, dx, convSizes(g).x, g);
  },

  conv2dBackwardFilter(x, dy, dw, g) {
    if (!allFloat32(x, dy, dw)) return tsKernels.conv2dBackwardFilter(x, dy, dw, g);
    convCall('conv2dBackwardFilter', (w) => w.mp_conv2d_backward_filter, x, convSizes(g).x, dy, convSizes(g).y, dw, convSizes(g).w, g);
  },

  maxPool2d(x, out, argmax, g) {
    if (!allFloat32(x, out)) return tsKernels.maxPool2d(x, out, argmax, g);
    guarded((w) => {
      const px = inF32(w, x as Float32Array, g.N * g.C * g.H * g.W);
      const nOut = g.N * g.C * g.OH * g.OW;
      const po = alloc(w, nOut * 4);
      const pa = alloc(w, nOut * 4);
      const pg = poolGeomPtr(w, g);
      w.mp_max_pool2d(px, po, pa, pg);
      getF32(po, out as Float32Array, nOut);
      if (nOut > 0) argmax.set(new Int32Array(buffer(), pa, nOut));
    });
  },

  maxPool2dBackward(dy, argmax, dx, g) {
    if (!allFloat32(dy, dx)) return tsKernels.maxPool2dBackward(dy, argmax, dx, g);
    guarded((w) => {
      const nOut = g.N * g.C * g.OH * g.OW;
      const pdy = inF32(w, dy as Float32Array, nOut);
      const pa = putI32(w, argmax, nOut);
      const nX = g.N * g.C * g.H * g.W;
      const pdx = alloc(w, nX * 4);
      const pg = poolGeomPtr(w, g);
      w.mp_max_pool2d_backward(pdy, pa, pdx, pg);
      getF32(pdx, dx as Float32Array, nX);
    });
  },

  avgPool2d(x, out, g) {
    if (!allFloat32(x, out)) return tsKernels.avgPool2d(x, out, g);
    poolCall((w) => w.mp_avg_pool2d, x, g.N * g.C * g.H * g.W, out, g.N * g.C * g.OH * g.OW, g);
  },

  avgPool2dBackward(dy, dx, g) {
    if (!allFloat32(dy, dx)) return tsKernels.avgPool2dBackward(dy, dx, g);
    poolCall((w) => w.mp_avg_pool2d_backward, dy, g.N * g.C * g.OH * g.OW, dx, g.N * g.C * g.H * g.W, g);
  },

  channelMoments(x, mean, variance, N, C, HW) {
    if (!allFloat32(x, mean, variance)) return tsKernels.channelMoments(x, mean, variance, N, C, HW);
    guarded((w) => {
      const px = inF32(w, x as Float32Array, N * C * HW);
      const pm = alloc(w, C * 4);
      const pv = alloc(w, C * 4);
      w.mp_channel_moments(px, pm, pv, N, C, HW);
      getF32(pm, mean as Float32Array, C);
      getF32(pv, variance as Float32Array, C);
    });
  },

  channelAffine(x, mean, scale, shift, out, N, C, HW) {
    if (!allFloat32(x, mean, scale, shift, out)) return tsKernels.channelAffine(x, mean, scale, shift, out, N, C, HW);
    guarded((w) => affineOut(w, inF32(w, x as Float32Array, N * C * HW), putF32(w, mean as Float32Array, C),
      scale as Float32Array, shift as Float32Array, out as Float32Array, N, C, HW, false));
  },

  channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW) {
    if (!allFloat32(dy, x, mean, invstd, sumDy, sumDyXhat)) {
      return tsKernels.channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW);
    }
    guarded((w) => {
      const n = N * C * HW;
      const pdy = inF32(w, dy as Float32Array, n);
      const px = inF32(w, x as Float32Array, n);
      const pm = putF32(w, mean as Float32Array, C);
      const pi = putF32(w, invstd as Float32Array, C);
      const ps = alloc(w, C * 4);
      const pt = alloc(w, C * 4);
      w.mp_channel_backward_sums(pdy, px, pm, pi, ps, pt, N, C, HW);
      getF32(ps, sumDy as Float32Array, C);
      getF32(pt, sumDyXhat as Float32Array, C);
    });
  },
};

// ------------------------------------------------------------------------- fast paths

const EW_RELU = 0, EW_RELU_BACKWARD = 1, EW_ADD = 2;

function elementwise(op: number, a: Float32Array, b: Float32Array | null, dst?: Float32Array): Float32Array {
  const n = a.length;
  const out = dst ?? residentF32(n);
  return guarded((w) => {
    const pa = inF32(w, a, n);
    const pb = b === null ? 0 : inF32(w, b, n);
    const po = outPtr(w, out, n);
    w.mp_elementwise(op, pa, pb, po, n);
    return outResult(po, out, n);
  });
}

/** A function copying the leading `images` images of src into wasm memory at p (incrementally). */
type Feed = (images: number) => void;

function feeder(src: Float32Array, p: number, perImage: number): Feed {
  let done = 0;
  return (images) => {
    if (images <= done) return;
    const a = done * perImage, b = images * perImage;
    new Float32Array(buffer(), p + a * 4, b - a).set(src.subarray(a, b));
    done = images;
  };
}

/** The inputs of a pipelined job that must be copied in, and how many bytes that is. */
interface JobFeeds {
  feeds: Feed[];
  bytes: number;
}

/** Pointer to an input of N images for a job: its own when resident, else a buffer a new feed fills. */
function jobInput(w: WasmExports, src: Float32Array, perImage: number, N: number, io: JobFeeds): number {
  const r = residentPtr(src);
  if (r >= 0) return r;
  const p = alloc(w, N * perImage * 4);
  io.feeds.push(feeder(src, p, perImage));
  io.bytes += N * perImage * 4;
  return p;
}

/** Bytes a pipelined part should at least move for the split to pay off. */
const PART_BYTES = 1 << 20;

/**
 * Runs a prepared conv job. With worker threads and enough data to copy, in parts: part i runs on
 * all threads while the main thread (before joining it) copies the inputs part i+1 needs and the
 * output of part i-1, so most copying overlaps with computing. `out` (units = images of the output)
 * is returned: `resident` itself when the job wrote into it, else a fresh array.
 */
function runJob(w: WasmExports, job: number, what: string, io: JobFeeds, maxParts: number,
  out: { p: number; perUnit: number; resident: Float32Array | null } | null): Float32Array | null {
  if (job === 0) throw new EngineError(`metaprune: wasm ${what} failed (out of memory)`);
  const units = w.mp_job_units(job);
  const n = out === null ? 0 : units * out.perUnit;
  const copyOut = out !== null && out.resident === null;
  const bytes = io.bytes + (copyOut ? n * 4 : 0);
  const parts = threads > 1 ? Math.max(1, Math.min(maxParts, units, Math.floor(bytes / PART_BYTES))) : 1;
  const cut = (i: number): number => Math.round((units * i) / parts);
  const feed = (u1: number): void => {
    const images = w.mp_job_images(job, u1);
    for (const f of io.feeds) f(images);
  };
  const dst = copyOut && parts > 1 ? new Float32Array(n) : null;
  const drain = (u0: number, u1: number): void => {
    if (dst !== null && u1 > u0) dst.set(new Float32Array(buffer(), out!.p + u0 * out!.perUnit * 4, (u1 - u0) * out!.perUnit), u0 * out!.perUnit);
  };
  feed(cut(1));
  for (let i = 0; i < parts; i++) {
    w.mp_job_start(job, cut(i), cut(i + 1));
    if (i + 1 < parts) feed(cut(i + 2));
    if (i > 0) drain(cut(i - 1), cut(i));
    check(w.mp_job_join(job), what);
  }
  if (out === null) return null;
  if (out.resident !== null) return out.resident;
  if (dst === null) return takeF32(out.p, n);
  drain(cut(parts - 1), units);
  return dst;
}

/** (x − mean)·scale + shift (ReLU'd when relu) from x and mean already in wasm memory, into out (or a fresh array). */
function affineOut(w: WasmExports, px: number, pm: number, scale: Float32Array, shift: Float32Array, out: Float32Array | null,
  N: number, C: number, HW: number, relu: boolean | undefined): Float32Array {
  const n = N * C * HW;
  const po = outPtr(w, out, n);
  w.mp_channel_affine(px, pm, putF32(w, scale, C), putF32(w, shift, C), po, N, C, HW);
  if (relu === true) w.mp_elementwise(EW_RELU, po, 0, po, n);
  return outResult(po, out, n);
}

/* Outputs the fast paths create come from residentF32 (before the call: it moves the arena) and are
   copied out only when that declines; inputs that are resident are read in place. */
export const wasmFastOps: FastOps = {
  relu(x, out) {
    return elementwise(EW_RELU, x, null, out);
  },
  reluBackward(y, g, out) {
    return elementwise(EW_RELU_BACKWARD, y, g, out);
  },
  add(a, b, out) {
    return elementwise(EW_ADD, a, b, out);
  },
  conv2d(x, wt, g) {
    const imgX = g.C * g.H * g.W, imgY = g.O * g.OH * g.OW;
    const y = residentF32(g.N * imgY);
    return guarded((w) => {
      const pw = putF32(w, wt, g.O * (g.C / g.groups) * g.KH * g.KW);
      const pg = convGeomPtr(w, g);
      const io: JobFeeds = { feeds: [], bytes: 0 };
      const px = jobInput(w, x, imgX, g.N, io);
      const po = outPtr(w, y, g.N * imgY);
      const job = w.mp_conv2d_prepare(px, pw, po, pg);
      return runJob(w, job, 'conv2d', io, 4, { p: po, perUnit: imgY, resident: y })!;
    });
  },
  conv2dBackward(dy, wt, x, wantDx, wantDw, g) {
    const imgX = g.C * g.H * g.W, imgY = g.O * g.OH * g.OW, nW = g.O * (g.C / g.groups) * g.KH * g.KW;
    const dxOut = wantDx ? residentF32(g.N * imgX) : null;
    return guarded((w) => {
      const pg = convGeomPtr(w, g);
      const ioDy: JobFeeds = { feeds: [], bytes: 0 };
      const pdy = jobInput(w, dy, imgY, g.N, ioDy);
      let dx: Float32Array | null = null, dw: Float32Array | null = null;
      if (wantDx) {
        const pw = putF32(w, wt, nW);
        const pdx = outPtr(w, dxOut, g.N * imgX);
        const job = w.mp_conv2d_backward_input_prepare(pdy, pw, pdx, pg);
        dx = runJob(w, job, 'conv2dBackwardInput', ioDy, 4, { p: pdx, perUnit: imgX, resident: dxOut });
      }
      if (wantDw) {
        // dy's feed (a no-op once the input gradient has copied it all) with x's
        const io: JobFeeds = { feeds: [...ioDy.feeds], bytes: wantDx ? 0 : ioDy.bytes };
        const px = jobInput(w, x, imgX, g.N, io);
        const pdw = alloc(w, nW * 4);
        const job = w.mp_conv2d_backward_filter_prepare(px, pdy, pdw, pg);
        runJob(w, job, 'conv2dBackwardFilter', io, 2, null);
        w.mp_job_finish(job);
        dw = takeF32(pdw, nW); // a parameter gradient: callers keep those, so never resident
      }
      return [dx, dw];
    });
  },
  batchNormForward(x, mean, variance, N, C, HW, coefs, relu) {
    const n = N * C * HW;
    const out = residentF32(n);
    return guarded((w) => {
      const px = inF32(w, x, n);
      const pm = alloc(w, C * 4);
      const pv = alloc(w, C * 4);
      w.mp_channel_moments(px, pm, pv, N, C, HW);
      getF32(pm, mean, C);
      getF32(pv, variance, C);
      const [scale, shift] = coefs();
      return affineOut(w, px, pm, scale, shift, out, N, C, HW, relu);
    });
  },
  channelAffine(x, mean, scale, shift, N, C, HW, relu) {
    const out = residentF32(N * C * HW);
    return guarded((w) => affineOut(w, inF32(w, x, N * C * HW), putF32(w, mean, C), scale, shift, out, N, C, HW, relu));
  },
  batchNormBackward(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW, wantDx, coefs, out, reluOut) {
    const n = N * C * HW;
    const dst = wantDx ? out ?? residentF32(n) : null;
    return guarded((w) => {
      let pdy = inF32(w, dy, n);
      if (reluOut !== undefined) {
        // the fused ReLU's mask, applied in wasm memory (no separate relu-backward round trip); into
        // dy itself only when it is a copy or the engine handed it over (out === dy)
        const masked = pdy === residentPtr(dy) && out !== dy ? alloc(w, n * 4) : pdy;
        w.mp_elementwise(EW_RELU_BACKWARD, inF32(w, reluOut, n), pdy, masked, n);
        pdy = masked;
      }
      const px = inF32(w, x, n);
      const pm = putF32(w, mean, C);
      const pi = putF32(w, invstd, C);
      const ps = alloc(w, C * 4);
      const pt = alloc(w, C * 4);
      w.mp_channel_backward_sums(pdy, px, pm, pi, ps, pt, N, C, HW);
      getF32(ps, sumDy, C);
      getF32(pt, sumDyXhat, C);
      if (!wantDx) return null;
      const [k1, k2, k3] = coefs();
      const p1 = putF32(w, k1, C);
      const p2 = putF32(w, k2, C);
      const p3 = putF32(w, k3, C);
      const pdx = outPtr(w, dst, n);
      w.mp_bn_backward_input(pdy, px, pm, p1, p2, p3, pdx, N, C, HW);
      return outResult(pdx, dst, n);
    });
  },
  residentScope,
};

if (wasm !== null) {
  registerKernels('wasm', wasmKernels);
  registerFastOps('wasm', wasmFastOps);
}

