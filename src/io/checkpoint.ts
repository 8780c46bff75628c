/**
 * Model checkpoints: graph + params (+ optional training state) in one json+bin pair.
 * Loading validates the graph (known ops, shapes) and that every parameter matches its node.
 */
import { rmSync } from 'node:fs';
import { Tensor } from '../tensor/tensor.js';
import { OP_TYPES, allParamNames, paramShapes, type ModelGraph, type Params } from '../ir/graph.js';
import { inferShapes } from '../ir/shapes.js';
import { CheckpointError, loadTensorFile, readTensorFileMeta, saveTensorFile, tensorFileExists, type LoadTensorOptions } from './tensor-file.js';

const FORMAT = 'metaprune-model';

export interface TrainingState {
  epoch: number;
  optimizer?: { kind: string; step: number };
  [key: string]: unknown;
}

export interface Checkpoint {
  graph: ModelGraph;
  params: Params;
  metadata: Record<string, unknown>;
  training?: TrainingState;
  /** Optimizer buffers by name. */
  optimizerBuffers?: Record<string, Float32Array | Float64Array>;
}

interface Meta {
  graph: ModelGraph;
  metadata: Record<string, unknown>;
  training?: TrainingState;
}

export function saveCheckpoint(path: string, c: Checkpoint): void {
  const tensors: Record<string, Tensor | Float32Array | Float64Array> = {};
  for (const name of allParamNames(c.graph)) {
    const t = c.params[name];
    if (t === undefined) throw new CheckpointError(`${path}.json`, `cannot save: parameter '${name}' is missing`);
    tensors[`param:${name}`] = t;
  }
  for (const [k, v] of Object.entries(c.optimizerBuffers ?? {})) tensors[`optim:${k}`] = v;
  saveTensorFile<Meta>(path, FORMAT, { graph: c.graph, metadata: c.metadata, training: c.training }, tensors);
}

export function loadCheckpoint(path: string, opts: LoadTensorOptions = {}): Checkpoint {
  const { meta, tensors } = loadTensorFile<Meta>(path, FORMAT, opts);
  const file = `${path}.json`;
  const g = (meta as Meta | null)?.graph;
  if (g === undefined || g === null || !Array.isArray(g.nodes)) throw new CheckpointError(file, 'has no model graph');
  for (const n of g.nodes) {
    if (n === null || typeof n !== 'object') throw new CheckpointError(file, `graph node ${JSON.stringify(n)} is not an object; expected {"name", "op", ...}`);
    if (!OP_TYPES.includes(n.op)) throw new CheckpointError(file, `node '${n.name}' has unknown op '${String(n.op)}' (known: ${OP_TYPES.join(', ')})`);
  }
  try {
    inferShapes(g);
  } catch (e) {
    throw new CheckpointError(file, `invalid model graph: ${(e as Error).message}`);
  }
  const params: Params = {};
  for (const n of g.nodes) {
    for (const [name, shape] of Object.entries(paramShapes(n))) {
      const t = tensors[`param:${name}`];
      if (t === undefined) throw new CheckpointError(file, `parameter '${name}' of node '${n.name}' is missing`);
      if (t.shape.join(',') !== shape.join(',')) {
        throw new CheckpointError(file, `parameter '${name}' has shape [${t.shape.join(', ')}], node '${n.name}' needs [${shape.join(', ')}]`);
      }
      params[name] = t;
    }
  }
  const optimizerBuffers: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(tensors)) if (k.startsWith('optim:')) optimizerBuffers[k.slice(6)] = t.data as Float32Array;
  return { graph: g, params, metadata: meta.metadata ?? {}, training: meta.training, optimizerBuffers };
}

/** Removes a checkpoint pair (the .json first, so a half-removed pair is never read as complete). */
export function removeCheckpoint(path: string): void {
  rmSync(`${path}.json`, { force: true });
  rmSync(`${path}.bin`, { force: true });
}

/** A checkpoint's metadata and training state, read from its .json alone (no tensors loaded). */
export function readCheckpointMeta(path: string): { metadata: Record<string, unknown>; training?: TrainingState } {
  const meta = readTensorFileMeta<Meta>(path, FORMAT);
  return { metadata: meta.metadata ?? {}, training: meta.training };
}

export function checkpointExists(path: string): boolean {
  return tensorFileExists(path);
}

export { CheckpointError, type LoadTensorOptions };
