/**
 * Backend selection: the ts reference backend always registers; the WASM SIMD backend registers
 * when its module instantiates; the native (OpenBLAS) backend when its optional addon is built.
 * Default is wasm; METAPRUNE_BACKEND=ts|wasm|native chooses.
 */
import './ts/kernels.js';
import { setThreads as setWasmThreads } from './wasm/index.js';
import { setNativeThreads } from './native/index.js';
import { hasBackend, setBackend, type BackendName } from '../registry.js';

const requested = process.env.METAPRUNE_BACKEND;
const choices: BackendName[] = ['ts', 'wasm', 'native'];
if (requested !== undefined && requested !== '') {
  if (!choices.includes(requested as BackendName)) {
    throw new Error(`METAPRUNE_BACKEND='${requested}' is not a backend (choose ${choices.join(', ')})`);
  }
  if (hasBackend(requested as BackendName)) setBackend(requested as BackendName);
  else process.stderr.write(`metaprune: backend '${requested}' is not available here; using ${hasBackend('wasm') ? 'wasm' : 'ts'}\n`);
}
if ((requested === undefined || requested === '' || !hasBackend(requested as BackendName)) && hasBackend('wasm')) setBackend('wasm');

/**
 * Sets the threads kernels use, for the wasm workers and OpenBLAS alike (METAPRUNE_THREADS sets the
 * initial count of both).
 */
export function setThreads(n: number): void {
  setWasmThreads(n);
  setNativeThreads(n);
}

/** Thread controls of the wasm backend (METAPRUNE_THREADS sets the initial count). */
export { getThreads, wasmThreadStats, wasmThreadsReady, type WasmThreadStats } from './wasm/index.js';
export { nativeAvailable, nativeInfo, nativeThreadInfo } from './native/index.js';
