/**
 * Kernel registry keyed by (kernel name, backend), in the spirit of tfjs-core: a backend registers
 * the kernels it accelerates; every other kernel falls back to the `ts` reference backend, so a new
 * backend touches no op.
 */
import { EngineError } from './errors.js';
import type { KernelMap, KernelName } from './kernels.js';

export type BackendName = 'ts' | 'wasm' | 'native';

const registry = new Map<BackendName, Partial<KernelMap>>();
let active: BackendName = 'ts';
/** Resolved kernels for the active backend (rebuilt when the backend or a registration changes). */
let resolved: Partial<KernelMap> = {};

function rebuild(): void {
  const base = registry.get('ts') ?? {};
  const own = active === 'ts' ? {} : (registry.get(active) ?? {});
  resolved = { ...base, ...own };
}

/** Registers (or replaces) kernels of one backend. */
export function registerKernels(backend: BackendName, kernels: Partial<KernelMap>): void {
  registry.set(backend, { ...(registry.get(backend) ?? {}), ...kernels });
  rebuild();
}

export function hasBackend(backend: BackendName): boolean {
  return registry.has(backend);
}

export function registeredBackends(): BackendName[] {
  return [...registry.keys()];
}

/** Selects the backend used by every op from now on. */
export function setBackend(backend: BackendName): void {
  if (!registry.has(backend)) {
    throw new EngineError(`metaprune: backend '${backend}' is not available (registered: ${[...registry.keys()].join(', ')})`);
  }
  active = backend;
  rebuild();
}

export function getBackend(): BackendName {
  return active;
}

/** The kernel `name` of the active backend, falling back to the `ts` reference. */
export function kernel<K extends KernelName>(name: K): KernelMap[K] {
  const k = resolved[name];
  if (k === undefined) throw new EngineError(`metaprune: no kernel '${name}' registered for backend '${active}' or 'ts'`);
  return k as KernelMap[K];
}

/** The kernel `name` of a specific backend (no fallback); for cross-backend tests and benchmarks. */
export function kernelOf<K extends KernelName>(backend: BackendName, name: K): KernelMap[K] | undefined {
  return registry.get(backend)?.[name] as KernelMap[K] | undefined;
}

/** Runs fn with `backend` active, restoring the previous one afterwards. */
export function withBackend<T>(backend: BackendName, fn: () => T): T {
  const prev = active;
  setBackend(backend);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}
