/**
 * Tensor: a dense, contiguous, row-major array with a shape. Tensors are immutable by convention
 * (ops never write into their inputs), which is what makes the tape autograd safe.
 */
import type { Buf } from './kernels.js';
import { TensorError, fmtShape } from './errors.js';
import { Rng } from './random.js';

export type DType = 'float32' | 'float64';
export type Shape = readonly number[];

/** How an op's output gets its input gradients: a list of inputs and a vector–Jacobian closure. */
export interface GradFn {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /**
   * Given dL/d(output), returns dL/d(input) for each input (null when the input needs none).
   * `overwrite`: the engine holds the only reference to gradOutput, so the closure may write its
   * result into it (and return it); see autograd.ts `freshGrad`.
   */
  backward(gradOutput: Buf, overwrite?: boolean): (Buf | null)[];
  /** Creation order of recorded nodes (lets a backward pass release only the nodes of its own call). */
  readonly seq?: number;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function allocBuf(dtype: DType, n: number): Buf {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

export function dtypeOf(buf: Buf): DType {
  return buf instanceof Float64Array ? 'float64' : 'float32';
}

export class Tensor {
  readonly shape: readonly number[];
  readonly size: number;
  readonly data: Buf;
  /** True when gradients flow into this tensor (a traced leaf or the result of an op on one). */
  requiresGrad = false;
  /** Set on tensors produced by a recorded op. */
  gradFn: GradFn | null = null;

  constructor(data: Buf, shape: Shape) {
    const n = sizeOf(shape);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new TensorError('tensor', `invalid shape ${fmtShape(shape)}`);
    }
    if (n !== data.length) {
      throw new TensorError('tensor', `shape ${fmtShape(shape)} needs ${n} elements, data has ${data.length}`);
    }
    this.shape = [...shape];
    this.size = n;
    this.data = data;
  }

  get dtype(): DType {
    return dtypeOf(this.data);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new TensorError('item', `expected one element, tensor has shape ${fmtShape(this.shape)}`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Same values, no autograd history. Shares storage (tensors are never mutated by ops). */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A deep copy with no autograd history. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** Copy converted to another dtype. */
  to(dtype: DType): Tensor {
    if (dtype === this.dtype) return this.clone();
    const out = allocBuf(dtype, this.size);
    out.set(this.data);
    return new Tensor(out, this.shape);
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}${this.gradFn ? `, grad_fn=${this.gradFn.op}` : ''})`;
  }
}

// ---------- constructors ----------

export function tensor(values: ArrayLike<number> | Buf, shape?: Shape, dtype: DType = 'float32'): Tensor {
  const s = shape ?? [values.length];
  const buf = allocBuf(dtype, values.length);
  buf.set(values as ArrayLike<number>);
  return new Tensor(buf, s);
}

export function scalar(v: number, dtype: DType = 'float32'): Tensor {
  return tensor([v], [], dtype);
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return new Tensor(allocBuf(dtype, sizeOf(shape)), shape);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const b = allocBuf(dtype, sizeOf(shape));
  b.fill(value);
  return new Tensor(b, shape);
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

export function randn(shape: Shape, rng: Rng, std = 1, dtype: DType = 'float32'): Tensor {
  const b = allocBuf(dtype, sizeOf(shape));
  for (let i = 0; i < b.length; i++) b[i] = rng.normal() * std;
  return new Tensor(b, shape);
}

export function randu(shape: Shape, rng: Rng, lo = 0, hi = 1, dtype: DType = 'float32'): Tensor {
  const b = allocBuf(dtype, sizeOf(shape));
  for (let i = 0; i < b.length; i++) b[i] = rng.uniform(lo, hi);
  return new Tensor(b, shape);
}

export function arange(n: number, dtype: DType = 'float32'): Tensor {
  const b = allocBuf(dtype, n);
  for (let i = 0; i < n; i++) b[i] = i;
  return new Tensor(b, [n]);
}
