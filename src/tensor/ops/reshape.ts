/** reshape / flatten: views that share storage (tensors are never mutated). */
import { Tensor, sizeOf } from '../tensor.js';
import { record } from '../autograd.js';
import { TensorError, fmtShape } from '../errors.js';

/** Reshape; one dimension may be -1 (inferred). */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const infer = s.indexOf(-1);
  if (infer >= 0) {
    const rest = s.reduce((p, d, i) => (i === infer ? p : p * d), 1);
    if (rest === 0 || a.size % rest !== 0) throw new TensorError('reshape', `cannot reshape ${fmtShape(a.shape)} to ${fmtShape(shape)}`);
    s[infer] = a.size / rest;
  }
  if (sizeOf(s) !== a.size) throw new TensorError('reshape', `cannot reshape ${fmtShape(a.shape)} (${a.size} elements) to ${fmtShape(shape)}`);
  const out = new Tensor(a.data, s);
  return record(out, 'reshape', [a], (g) => [g]);
}

/** Flattens dims [startAxis..] into one: [N, C, H, W] → [N, C·H·W]. */
export function flatten(a: Tensor, startAxis = 1): Tensor {
  const head = a.shape.slice(0, startAxis);
  return reshape(a, [...head, sizeOf(a.shape.slice(startAxis))]);
}
