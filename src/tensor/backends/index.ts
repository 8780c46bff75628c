/**
 * Backend selection: the ts reference backend always registers; the WASM SIMD backend registers
 * when its module instantiates; the native (OpenBLAS) backend when its optional addon is built.
 * Default is wasm; METAPRUNE_BACKEND=ts|wasm|native chooses.
 */
import { EngineError } from '../errors.js';
import './ts/kernels.js';
import { getThreads as getWasmThreads, setThreads as setWasmThreads } from './wasm/index.js';
import { setNativeThreads } from './native/index.js';
import { getBackend, hasBackend, setBackend, type BackendName } from '../registry.js';

const requested = process.env.METAPRUNE_BACKEND;
const choices: BackendName[] = ['ts', 'wasm', 'native'];
if (requested !== undefined && requested !== '') {
  if (!choices.includes(requested as BackendName)) {
    throw new EngineError(`METAPRUNE_BACKEND='${requested}' is not a backend (choose ${choices.join(', ')})`);
  }
  if (hasBackend(requested as BackendName)) setBackend(requested as BackendName);
  else process.stderr.write(`metaprune: backend '${requested}' is not available here; using ${hasBackend('wasm') ? 'wasm' : 'ts'}\n`);
}
if ((requested === undefined || requested === '' || !hasBackend(requested as BackendName)) && hasBackend('wasm')) setBackend('wasm');

/** Kernel threads (METAPRUNE_THREADS, default all cores, as the wasm backend read it). */
let threads = getWasmThreads();

/**
 * Applies the thread count. With the native backend everything but pooling runs in the addon (on
 * its pool, or OpenMP's team with oneDNN); wasm workers would then spin between the addon's calls
 * and take the second core from it (measured when batch norm and ReLU still came from wasm: a
 * ResNet-20 step at 2 threads swung between 280 and 390 ms), so the borrowed wasm kernels run
 * single-threaded.
 */
function applyThreads(): void {
  setWasmThreads(getBackend() === 'native' ? 1 : threads);
  setNativeThreads(threads);
}
applyThreads();

/**
 * Sets the threads kernels use (wasm workers and the native addon's pool alike; call it after
 * switching to or from the native backend with setBackend).
 */
export function setThreads(n: number): void {
  setWasmThreads(n); // validates and caps
  threads = getWasmThreads();
  applyThreads();
}

/** Threads kernels use (main thread included). */
export function getThreads(): number {
  return threads;
}

/** Thread controls of the wasm backend (METAPRUNE_THREADS sets the initial count). */
export { wasmThreadStats, wasmThreadsReady, type WasmThreadStats } from './wasm/index.js';
export { nativeAvailable, nativeInfo, nativeThreadInfo, setNativeDnnl } from './native/index.js';
