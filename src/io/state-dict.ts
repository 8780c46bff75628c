/**
 * Loading a PyTorch-style state dict (`.safetensors` or `.npz`, e.g. a torchvision model's
 * `state_dict()`) into a model's params. Keys are matched through a name map (our param name →
 * state-dict key); every missing, unexpected or wrong-shape key is listed in one error.
 */
import { extname } from 'node:path';
import { readFileSync } from 'node:fs';
import { tensor } from '../tensor/tensor.js';
import { paramNames, paramShapes, type ModelGraph, type Params } from '../ir/graph.js';
import { ArrayFileError } from './array-error.js';
import { parseNpz, type NdArray } from './npy.js';
import { parseSafetensors } from './safetensors.js';
import { MetapruneError } from '../errors.js';

export type StateDict = Map<string, NdArray>;

/** Reads a state dict from a `.safetensors` or `.npz` file (chosen by extension). */
export function readStateDict(file: string): StateDict {
  const ext = extname(file).toLowerCase();
  if (ext !== '.safetensors' && ext !== '.npz') throw new ArrayFileError(file, `unknown weights format '${ext}': expected .safetensors or .npz`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new ArrayFileError(file, `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return ext === '.npz' ? parseNpz(bytes, file) : parseSafetensors(bytes, file);
}

/** Keys a state dict may carry that have no parameter here (BN's batch counter). */
const IGNORED = /(^|\.)num_batches_tracked$/;

export class StateDictError extends MetapruneError {
  constructor(readonly source: string, readonly missing: string[], readonly unexpected: string[], readonly wrongShape: string[]) {
    const list = (what: string, ks: string[]) => (ks.length > 0 ? `\n  ${what} (${ks.length}): ${ks.slice(0, 20).join(', ')}${ks.length > 20 ? ', …' : ''}` : '');
    super('checkpoint', `${source}: state dict does not fit the model` + list('missing keys', missing) + list('unexpected keys', unexpected) + list('wrong shapes', wrongShape));
    this.name = 'StateDictError';
  }
}

/**
 * Params for `graph` from `sd`. `names` maps our param names to state-dict keys (default:
 * identical). Throws a `StateDictError` listing every mismatch.
 */
export function paramsFromStateDict(graph: ModelGraph, sd: StateDict, source: string, names?: ReadonlyMap<string, string>): Params {
  const params: Params = {};
  const missing: string[] = [];
  const wrongShape: string[] = [];
  const used = new Set<string>();
  for (const n of graph.nodes) {
    const shapes = paramShapes(n);
    for (const { name } of paramNames(n)) {
      const key = names?.get(name) ?? name;
      const a = sd.get(key);
      if (a === undefined) { missing.push(key); continue; }
      used.add(key);
      const want = shapes[name]!;
      if (a.shape.length !== want.length || a.shape.some((d, i) => d !== want[i])) {
        wrongShape.push(`${key} [${a.shape.join(', ')}] (expected [${want.join(', ')}])`);
        continue;
      }
      params[name] = tensor(Float32Array.from(a.data), want);
    }
  }
  const unexpected = [...sd.keys()].filter((k) => !used.has(k) && !IGNORED.test(k));
  if (missing.length + unexpected.length + wrongShape.length > 0) throw new StateDictError(source, missing, unexpected, wrongShape);
  return params;
}
