/**
 * WebAssembly SIMD backend (float32). The module (built from kernels.c by tools/build-wasm.sh) is
 * embedded as base64 in kernels-wasm-bytes.ts and instantiated synchronously at import.
 *
 * Each call copies its inputs into the module's linear memory (a bump arena reset per call, grown
 * as needed), runs the kernel and copies the outputs back. Float64 inputs are delegated to the
 * `ts` reference kernels. If instantiation fails, a one-line notice goes to stderr and the backend
 * is not registered.
 */
import type { Buf, ConvGeom, KernelMap, PoolGeom } from '../../kernels.js';
import { registerKernels } from '../../registry.js';
import { tsKernels } from '../ts/kernels.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm-bytes.js';

interface WasmExports {
  memory: WebAssembly.Memory;
  mp_reset(): void;
  mp_alloc(bytes: number): number;
  mp_matmul(a: number, b: number, c: number, M: number, K: number, N: number, tA: number, tB: number, acc: number): number;
  mp_conv2d(x: number, w: number, out: number, g: number): number;
  mp_conv2d_backward_input(dy: number, w: number, dx: number, g: number): number;
  mp_conv2d_backward_filter(x: number, dy: number, dw: number, g: number): number;
  mp_max_pool2d(x: number, out: number, argmax: number, g: number): void;
  mp_max_pool2d_backward(dy: number, argmax: number, dx: number, g: number): void;
  mp_avg_pool2d(x: number, out: number, g: number): void;
  mp_avg_pool2d_backward(dy: number, dx: number, g: number): void;
  mp_channel_moments(x: number, mean: number, variance: number, N: number, C: number, HW: number): void;
  mp_channel_affine(x: number, mean: number, scale: number, shift: number, out: number, N: number, C: number, HW: number): void;
  mp_channel_backward_sums(dy: number, x: number, mean: number, invstd: number, sumDy: number, sumDyXhat: number, N: number, C: number, HW: number): void;
}

let wasm: WasmExports | null = null;
try {
  const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
  const mod = new WebAssembly.Module(bytes);
  const inst = new WebAssembly.Instance(mod, {});
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
  if (wasm === null) throw new Error('metaprune: wasm backend is not available');
  return wasm;
}

// ------------------------------------------------------------------------- per-call arena

function begin(): WasmExports {
  const w = W();
  w.mp_reset();
  return w;
}

function alloc(w: WasmExports, bytes: number): number {
  const p = w.mp_alloc(bytes);
  if (p === 0 && bytes > 0) throw new Error(`metaprune: wasm memory exhausted (requested ${bytes} bytes)`);
  return p;
}

/** Copies the first n elements of src into fresh wasm memory; returns the pointer. */
function putF32(w: WasmExports, src: Float32Array, n: number): number {
  const p = alloc(w, n * 4);
  if (n > 0) new Float32Array(w.memory.buffer, p, n).set(n === src.length ? src : src.subarray(0, n));
  return p;
}

function putI32(w: WasmExports, src: Int32Array, n: number): number {
  const p = alloc(w, n * 4);
  if (n > 0) new Int32Array(w.memory.buffer, p, n).set(n === src.length ? src : src.subarray(0, n));
  return p;
}

/** Copies n floats at p back into dst (views are re-created: memory may have grown). */
function getF32(w: WasmExports, p: number, dst: Float32Array, n: number): void {
  if (n > 0) dst.set(new Float32Array(w.memory.buffer, p, n));
}

function putInts(w: WasmExports, vals: number[]): number {
  const p = alloc(w, vals.length * 4);
  new Int32Array(w.memory.buffer, p, vals.length).set(vals);
  return p;
}

function convGeomPtr(w: WasmExports, g: ConvGeom): number {
  return putInts(w, [g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.OH, g.OW, g.strideH, g.strideW, g.padH, g.padW, g.dilationH, g.dilationW, g.groups]);
}

function poolGeomPtr(w: WasmExports, g: PoolGeom): number {
  return putInts(w, [g.N, g.C, g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.strideH, g.strideW, g.padH, g.padW]);
}

function check(rc: number, what: string): void {
  if (rc !== 0) throw new Error(`metaprune: wasm ${what} failed (out of memory)`);
}

function anyF64(...bufs: Buf[]): boolean {
  for (const b of bufs) if (!(b instanceof Float32Array)) return true;
  return false;
}

// ------------------------------------------------------------------------- kernels

export const wasmKernels: Partial<KernelMap> = {
  matmul(a, b, c, M, K, N, transA, transB, accumulate) {
    if (anyF64(a, b, c)) return tsKernels.matmul(a, b, c, M, K, N, transA, transB, accumulate);
    const w = begin();
    const pa = putF32(w, a as Float32Array, M * K);
    const pb = putF32(w, b as Float32Array, K * N);
    const pc = accumulate ? putF32(w, c as Float32Array, M * N) : alloc(w, M * N * 4);
    check(w.mp_matmul(pa, pb, pc, M, K, N, transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0), 'matmul');
    getF32(w, pc, c as Float32Array, M * N);
  },

  conv2d(x, wt, out, g) {
    if (anyF64(x, wt, out)) return tsKernels.conv2d(x, wt, out, g);
    const w = begin();
    const px = putF32(w, x as Float32Array, g.N * g.C * g.H * g.W);
    const pw = putF32(w, wt as Float32Array, g.O * (g.C / g.groups) * g.KH * g.KW);
    const nOut = g.N * g.O * g.OH * g.OW;
    const po = alloc(w, nOut * 4);
    const pg = convGeomPtr(w, g);
    check(w.mp_conv2d(px, pw, po, pg), 'conv2d');
    getF32(w, po, out as Float32Array, nOut);
  },

  conv2dBackwardInput(dy, wt, dx, g) {
    if (anyF64(dy, wt, dx)) return tsKernels.conv2dBackwardInput(dy, wt, dx, g);
    const w = begin();
    const pdy = putF32(w, dy as Float32Array, g.N * g.O * g.OH * g.OW);
    const pw = putF32(w, wt as Float32Array, g.O * (g.C / g.groups) * g.KH * g.KW);
    const nX = g.N * g.C * g.H * g.W;
    const pdx = alloc(w, nX * 4);
    const pg = convGeomPtr(w, g);
    check(w.mp_conv2d_backward_input(pdy, pw, pdx, pg), 'conv2dBackwardInput');
    getF32(w, pdx, dx as Float32Array, nX);
  },

  conv2dBackwardFilter(x, dy, dw, g) {
    if (anyF64(x, dy, dw)) return tsKernels.conv2dBackwardFilter(x, dy, dw, g);
    const w = begin();
    const px = putF32(w, x as Float32Array, g.N * g.C * g.H * g.W);
    const pdy = putF32(w, dy as Float32Array, g.N * g.O * g.OH * g.OW);
    const nW = g.O * (g.C / g.groups) * g.KH * g.KW;
    const pdw = alloc(w, nW * 4);
    const pg = convGeomPtr(w, g);
    check(w.mp_conv2d_backward_filter(px, pdy, pdw, pg), 'conv2dBackwardFilter');
    getF32(w, pdw, dw as Float32Array, nW);
  },

  maxPool2d(x, out, argmax, g) {
    if (anyF64(x, out)) return tsKernels.maxPool2d(x, out, argmax, g);
    const w = begin();
    const px = putF32(w, x as Float32Array, g.N * g.C * g.H * g.W);
    const nOut = g.N * g.C * g.OH * g.OW;
    const po = alloc(w, nOut * 4);
    const pa = alloc(w, nOut * 4);
    const pg = poolGeomPtr(w, g);
    w.mp_max_pool2d(px, po, pa, pg);
    getF32(w, po, out as Float32Array, nOut);
    if (nOut > 0) argmax.set(new Int32Array(w.memory.buffer, pa, nOut));
  },

  maxPool2dBackward(dy, argmax, dx, g) {
    if (anyF64(dy, dx)) return tsKernels.maxPool2dBackward(dy, argmax, dx, g);
    const w = begin();
    const nOut = g.N * g.C * g.OH * g.OW;
    const pdy = putF32(w, dy as Float32Array, nOut);
    const pa = putI32(w, argmax, nOut);
    const nX = g.N * g.C * g.H * g.W;
    const pdx = alloc(w, nX * 4);
    const pg = poolGeomPtr(w, g);
    w.mp_max_pool2d_backward(pdy, pa, pdx, pg);
    getF32(w, pdx, dx as Float32Array, nX);
  },

  avgPool2d(x, out, g) {
    if (anyF64(x, out)) return tsKernels.avgPool2d(x, out, g);
    const w = begin();
    const px = putF32(w, x as Float32Array, g.N * g.C * g.H * g.W);
    const nOut = g.N * g.C * g.OH * g.OW;
    const po = alloc(w, nOut * 4);
    const pg = poolGeomPtr(w, g);
    w.mp_avg_pool2d(px, po, pg);
    getF32(w, po, out as Float32Array, nOut);
  },

  avgPool2dBackward(dy, dx, g) {
    if (anyF64(dy, dx)) return tsKernels.avgPool2dBackward(dy, dx, g);
    const w = begin();
    const pdy = putF32(w, dy as Float32Array, g.N * g.C * g.OH * g.OW);
    const nX = g.N * g.C * g.H * g.W;
    const pdx = alloc(w, nX * 4);
    const pg = poolGeomPtr(w, g);
    w.mp_avg_pool2d_backward(pdy, pdx, pg);
    getF32(w, pdx, dx as Float32Array, nX);
  },

  channelMoments(x, mean, variance, N, C, HW) {
    if (anyF64(x, mean, variance)) return tsKernels.channelMoments(x, mean, variance, N, C, HW);
    const w = begin();
    const px = putF32(w, x as Float32Array, N * C * HW);
    const pm = alloc(w, C * 4);
    const pv = alloc(w, C * 4);
    w.mp_channel_moments(px, pm, pv, N, C, HW);
    getF32(w, pm, mean as Float32Array, C);
    getF32(w, pv, variance as Float32Array, C);
  },

  channelAffine(x, mean, scale, shift, out, N, C, HW) {
    if (anyF64(x, mean, scale, shift, out)) return tsKernels.channelAffine(x, mean, scale, shift, out, N, C, HW);
    const w = begin();
    const n = N * C * HW;
    const px = putF32(w, x as Float32Array, n);
    const pm = putF32(w, mean as Float32Array, C);
    const ps = putF32(w, scale as Float32Array, C);
    const pb = putF32(w, shift as Float32Array, C);
    const po = alloc(w, n * 4);
    w.mp_channel_affine(px, pm, ps, pb, po, N, C, HW);
    getF32(w, po, out as Float32Array, n);
  },

  channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW) {
    if (anyF64(dy, x, mean, invstd, sumDy, sumDyXhat)) {
      return tsKernels.channelBackwardSums(dy, x, mean, invstd, sumDy, sumDyXhat, N, C, HW);
    }
    const w = begin();
    const n = N * C * HW;
    const pdy = putF32(w, dy as Float32Array, n);
    const px = putF32(w, x as Float32Array, n);
    const pm = putF32(w, mean as Float32Array, C);
    const pi = putF32(w, invstd as Float32Array, C);
    const ps = alloc(w, C * 4);
    const pt = alloc(w, C * 4);
    w.mp_channel_backward_sums(pdy, px, pm, pi, ps, pt, N, C, HW);
    getF32(w, ps, sumDy as Float32Array, C);
    getF32(w, pt, sumDyXhat as Float32Array, C);
  },
};

if (wasm !== null) registerKernels('wasm', wasmKernels);
