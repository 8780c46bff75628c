/**
 * Metanetwork checkpoints: one json+bin tensor file (atomic, see io/tensor-file.ts) holding the GNN
 * config, its parameters (`param/<name>`), optional optimizer buffers (`optim/<name>`) and free-form
 * metadata (epoch, λ, ...). Tensors are stored as float32; a float64 metanetwork is converted back
 * to float64 on load (so its values are rounded to float32 once).
 */
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError, loadTensorFile, readTensorFileMeta, saveTensorFile, tensorFileExists, type LoadTensorOptions } from '../io/tensor-file.js';
import type { OptimizerState } from '../train/optim.js';
import { gnnLayers, validateGnnConfig, type GnnConfig, type GnnParams } from './gnn.js';

export const METANET_FORMAT = 'metaprune-metanet';

interface MetanetFileMeta {
  config: GnnConfig;
  paramNames: string[];
  optimizer: { step: number; buffers: string[] } | null;
  extra: Record<string, unknown>;
}

export interface MetanetFile {
  config: GnnConfig;
  params: GnnParams;
  /** Free-form metadata saved with the checkpoint. */
  meta: Record<string, unknown>;
  optimizer: OptimizerState | null;
}

/** Writes `<path>.json` + `<path>.bin` (atomically; the .json last). */
export function writeMetanetFile(path: string, config: GnnConfig, params: GnnParams, meta: Record<string, unknown> = {}, optimizer?: OptimizerState | null): void {
  const tensors: Record<string, Tensor | Float32Array | Float64Array> = {};
  const paramNames = Object.keys(params);
  for (const k of paramNames) tensors[`param/${k}`] = params[k];
  let opt: MetanetFileMeta['optimizer'] = null;
  if (optimizer) {
    const names = Object.keys(optimizer.buffers);
    for (const k of names) tensors[`optim/${k}`] = optimizer.buffers[k];
    opt = { step: optimizer.step, buffers: names };
  }
  const fileMeta: MetanetFileMeta = { config, paramNames, optimizer: opt, extra: meta };
  saveTensorFile(path, METANET_FORMAT, fileMeta, tensors);
}

/** Reads a metanetwork checkpoint, checking the config and every parameter's shape. */
export function readMetanetFile(path: string, opts: LoadTensorOptions = {}): MetanetFile {
  const { meta, tensors } = loadTensorFile<MetanetFileMeta>(path, METANET_FORMAT, opts);
  const file = `${path}.json`;
  if (meta === null || typeof meta !== 'object' || meta.config === undefined) throw new CheckpointError(file, 'missing metanetwork config');
  const config: GnnConfig = { ...meta.config, dtype: meta.config.dtype ?? 'float32' };
  try {
    validateGnnConfig(config);
  } catch (e) {
    throw new CheckpointError(file, (e as Error).message);
  }
  const params: GnnParams = {};
  for (const [name, fin, fout] of gnnLayers(config)) {
    for (const [role, shape] of [['weight', [fout, fin]], ['bias', [fout]]] as const) {
      const key = `${name}.${role}`;
      const t = tensors[`param/${key}`];
      if (t === undefined) throw new CheckpointError(file, `missing metanetwork parameter '${key}'`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new CheckpointError(file, `parameter '${key}' has shape [${t.shape.join(', ')}], config ${JSON.stringify(config)} needs [${shape.join(', ')}]`);
      }
      params[key] = config.dtype === 'float32' ? t : t.to(config.dtype);
    }
  }
  let optimizer: OptimizerState | null = null;
  if (meta.optimizer) {
    const buffers: Record<string, Float32Array | Float64Array> = {};
    for (const k of meta.optimizer.buffers) {
      const t = tensors[`optim/${k}`];
      if (t === undefined) throw new CheckpointError(file, `missing optimizer buffer '${k}'`);
      buffers[k] = t.data;
    }
    optimizer = { step: meta.optimizer.step, buffers };
  }
  return { config, params, meta: meta.extra ?? {}, optimizer };
}

/** A metanetwork checkpoint's free-form metadata, from its .json alone (no tensors, no metanetwork built). */
export function readMetanetMeta(path: string): Record<string, unknown> {
  const meta = readTensorFileMeta<MetanetFileMeta>(path, METANET_FORMAT);
  return meta?.extra ?? {};
}

export function metanetCheckpointExists(path: string): boolean {
  return tensorFileExists(path);
}
