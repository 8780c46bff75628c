/**
 * Optional onnxruntime-node: run exported models (to check them against the engine) and measure
 * their latency. onnxruntime-node is an optional dependency, loaded with a dynamic import; every
 * caller must handle `loadOnnxRuntime()` returning null (not installed, or its native binding
 * failed to load). Only the small slice of its API used here is typed, so metaprune compiles
 * without it.
 */
import { Tensor } from '../../tensor/tensor.js';
import { OnnxError } from './errors.js';

export interface OrtTensor {
  readonly dims: readonly number[];
  readonly data: unknown;
  readonly type: string;
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}

export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode?: 'sequential' | 'parallel';
}

/** The part of the onnxruntime-node module metaprune uses. */
export interface OnnxRuntime {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  env: { versions?: Record<string, string> };
}

let cached: Promise<OnnxRuntime | null> | undefined;
let loadError: string | undefined;

/** onnxruntime-node when installed and loadable, else null (see `onnxRuntimeUnavailableReason()`). */
export function loadOnnxRuntime(): Promise<OnnxRuntime | null> {
  cached ??= (async () => {
    const name = 'onnxruntime-node'; // not a literal import: metaprune must compile and run without it
    try {
      const mod = (await import(name)) as Partial<OnnxRuntime> & { default?: Partial<OnnxRuntime> };
      const ort = mod.InferenceSession !== undefined ? mod : mod.default;
      if (ort?.InferenceSession === undefined || ort.Tensor === undefined) {
        loadError = 'onnxruntime-node loaded but has no InferenceSession';
        return null;
      }
      return ort as OnnxRuntime;
    } catch (e) {
      loadError = `onnxruntime-node is not available (${(e as Error).message.split('\n')[0]})`;
      return null;
    }
  })();
  return cached;
}

/** Why `loadOnnxRuntime()` returned null (undefined before it was called, or when it loaded). */
export function onnxRuntimeUnavailableReason(): string | undefined {
  return loadError;
}

/** The onnxruntime-node version, when loaded. */
export function onnxRuntimeVersion(ort: OnnxRuntime): string {
  return ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown';
}

/** A session over ONNX bytes; errors from onnxruntime become OnnxErrors. */
export async function createOrtSession(ort: OnnxRuntime, model: Uint8Array, options: OrtSessionOptions = {}): Promise<OrtSession> {
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (e) {
    throw new OnnxError(`onnxruntime rejected the model: ${(e as Error).message}`);
  }
}

/** Runs a single-input single-output session on x (float32, batch first); returns the output. */
export async function runOrtSession(ort: OnnxRuntime, session: OrtSession, x: Tensor): Promise<Tensor> {
  const data = x.data instanceof Float32Array ? x.data : Float32Array.from(x.data);
  const feeds: Record<string, OrtTensor> = { [session.inputNames[0]]: new ort.Tensor('float32', data, x.shape) };
  let out: Record<string, OrtTensor>;
  try {
    out = await session.run(feeds);
  } catch (e) {
    throw new OnnxError(`onnxruntime failed to run the model: ${(e as Error).message}`);
  }
  const y = out[session.outputNames[0]];
  if (!(y.data instanceof Float32Array)) throw new OnnxError(`onnxruntime returned a ${y.type} output; float32 was expected`);
  return new Tensor(Float32Array.from(y.data), [...y.dims]);
}

/** Runs ONNX bytes on x with onnxruntime (one-off session). */
export async function runOnnx(ort: OnnxRuntime, model: Uint8Array, x: Tensor, options: OrtSessionOptions = {}): Promise<Tensor> {
  const s = await createOrtSession(ort, model, options);
  try {
    return await runOrtSession(ort, s, x);
  } finally {
    await s.release?.();
  }
}

export interface LatencyOptions {
  batch: number;
  /** Timed runs (default 20); the median is reported. */
  runs?: number;
  /** Untimed runs first (default 3). */
  warmup?: number;
  session?: OrtSessionOptions;
}

export interface LatencyResult {
  batch: number;
  runs: number;
  medianMs: number;
  minMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time of onnxruntime inference at a batch size, on a fixed pseudo-random input of per-sample shape `inputShape`. */
export async function onnxLatency(ort: OnnxRuntime, model: Uint8Array, inputShape: readonly number[], o: LatencyOptions): Promise<LatencyResult> {
  return (await compareOnnxLatencies(ort, [model], inputShape, o))[0];
}

/**
 * Latency of several models at one batch size, with their timed runs interleaved (A, B, A, B, ...)
 * so that load from other processes affects all of them alike; medians per model.
 */
export async function compareOnnxLatencies(ort: OnnxRuntime, models: readonly Uint8Array[], inputShape: readonly number[], o: LatencyOptions): Promise<LatencyResult[]> {
  const runs = o.runs ?? 20;
  const warmup = o.warmup ?? 3;
  if (!Number.isInteger(runs) || runs < 1) throw new OnnxError(`latency runs must be a positive integer, got ${runs}`);
  const sessions: OrtSession[] = [];
  try {
    for (const m of models) sessions.push(await createOrtSession(ort, m, o.session ?? {}));
    const shape = [o.batch, ...inputShape];
    const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 12.9898) * 0.5;
    const input = new ort.Tensor('float32', data, shape);
    const feeds = sessions.map((s): Record<string, OrtTensor> => ({ [s.inputNames[0]]: input }));
    for (let i = 0; i < warmup; i++) for (let k = 0; k < sessions.length; k++) await sessions[k].run(feeds[k]);
    const times = sessions.map((): number[] => []);
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < sessions.length; k++) {
        const t = performance.now();
        await sessions[k].run(feeds[k]);
        times[k].push(performance.now() - t);
      }
    }
    return times.map((ts) => ({ batch: o.batch, runs, medianMs: median(ts), minMs: Math.min(...ts) }));
  } finally {
    for (const s of sessions) await s.release?.();
  }
}
