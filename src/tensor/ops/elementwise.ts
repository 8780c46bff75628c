/** Elementwise ops: binary with NumPy broadcasting, unary, and their gradients. */
import { Tensor, allocBuf, scalar as scalarTensor } from '../tensor.js';
import type { Buf } from '../kernels.js';
import { freshGrad, record } from '../autograd.js';
import { broadcastShapes, broadcastStrides, checkDtypes, forEachBroadcast, reduceToShape, sameShape } from './util.js';
import { fastFor } from '../backends/fast.js';

type Operand = Tensor | number;

function lift(v: Operand, like: Tensor): Tensor {
  return v instanceof Tensor ? v : scalarTensor(v, like.dtype);
}

/** Computes out = f(a, b) with broadcasting. */
function binaryForward(op: string, a: Tensor, b: Tensor, f: (x: number, y: number) => number): { out: Tensor; shape: number[] } {
  const dtype = checkDtypes(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = new Tensor(allocBuf(dtype, shape.reduce((p, d) => p * d, 1)), shape);
  const o = out.data, x = a.data, y = b.data;
  if (sameShape(a.shape, b.shape)) {
    for (let i = 0; i < o.length; i++) o[i] = f(x[i], y[i]);
  } else if (b.size === 1) {
    const s = y[0];
    for (let i = 0; i < o.length; i++) o[i] = f(x[i], s);
  } else if (a.size === 1) {
    const s = x[0];
    for (let i = 0; i < o.length; i++) o[i] = f(s, y[i]);
  } else {
    forEachBroadcast(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape), (k, i, j) => {
      o[k] = f(x[i], y[j]);
    });
  }
  return { out, shape };
}

/** Elementwise product of g with h(a_i, b_j) evaluated on the broadcast grid, reduced to `target`. */
function broadcastGrad(g: Buf, a: Tensor, b: Tensor, shape: number[], target: Tensor, h: (x: number, y: number) => number): Buf {
  const out = allocBuf(target.dtype, g.length);
  const x = a.data, y = b.data;
  if (sameShape(a.shape, b.shape)) {
    for (let i = 0; i < g.length; i++) out[i] = g[i] * h(x[i], y[i]);
  } else {
    forEachBroadcast(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape), (k, i, j) => {
      out[k] = g[k] * h(x[i], y[j]);
    });
  }
  return reduceToShape(out, shape, target.shape, target.dtype);
}

/** Same-shape a + b without a per-element closure call (the residual-add hot path); into a's storage when inPlace. */
function addSameShape(a: Tensor, b: Tensor, inPlace = false): Tensor {
  const dtype = checkDtypes('add', a, b);
  const x = a.data, y = b.data;
  const f = fastFor(a.size, x, y);
  let o: Buf;
  if (f) {
    o = f.add(x as Float32Array, y as Float32Array, inPlace ? x as Float32Array : undefined);
  } else {
    o = inPlace ? x : allocBuf(dtype, a.size);
    for (let i = 0; i < o.length; i++) o[i] = x[i] + y[i];
  }
  return record(new Tensor(o, a.shape), 'add', [a, b], (g) => [a.requiresGrad ? g : null, b.requiresGrad ? g : null]);
}

/**
 * a + b written into a's storage (same shapes; otherwise an ordinary add). For callers that know
 * nothing will read a's values again, backward passes included (ir/forward.ts): the add's own
 * gradient needs no values, so only a's producer and other readers of a matter.
 */
export function addInPlace(a: Tensor, b: Tensor): Tensor {
  return sameShape(a.shape, b.shape) ? addSameShape(a, b, true) : add(a, b);
}

export function add(a: Tensor, bv: Operand): Tensor {
  const b = lift(bv, a);
  if (sameShape(a.shape, b.shape)) return addSameShape(a, b);
  const { out, shape } = binaryForward('add', a, b, (x, y) => x + y);
  return record(out, 'add', [a, b], (g) => [
    a.requiresGrad ? reduceToShape(g, shape, a.shape, a.dtype) : null,
    b.requiresGrad ? reduceToShape(g, shape, b.shape, b.dtype) : null,
  ]);
}

export function sub(av: Operand, bv: Operand): Tensor {
  const a = av instanceof Tensor ? av : lift(av, bv as Tensor);
  const b = lift(bv, a);
  const { out, shape } = binaryForward('sub', a, b, (x, y) => x - y);
  return record(out, 'sub', [a, b], (g) => {
    let gb: Buf | null = null;
    if (b.requiresGrad) {
      const r = reduceToShape(g, shape, b.shape, b.dtype);
      gb = allocBuf(b.dtype, r.length);
      for (let i = 0; i < r.length; i++) gb[i] = -r[i];
    }
    return [a.requiresGrad ? reduceToShape(g, shape, a.shape, a.dtype) : null, gb];
  });
}

export function mul(a: Tensor, bv: Operand): Tensor {
  const b = lift(bv, a);
  const { out, shape } = binaryForward('mul', a, b, (x, y) => x * y);
  return record(out, 'mul', [a, b], (g) => [
    a.requiresGrad ? broadcastGrad(g, a, b, shape, a, (_x, y) => y) : null,
    b.requiresGrad ? broadcastGrad(g, a, b, shape, b, (x) => x) : null,
  ]);
}

export function div(av: Operand, bv: Operand): Tensor {
  const a = av instanceof Tensor ? av : lift(av, bv as Tensor);
  const b = lift(bv, a);
  const { out, shape } = binaryForward('div', a, b, (x, y) => x / y);
  return record(out, 'div', [a, b], (g) => [
    a.requiresGrad ? broadcastGrad(g, a, b, shape, a, (_x, y) => 1 / y) : null,
    b.requiresGrad ? broadcastGrad(g, a, b, shape, b, (x, y) => -x / (y * y)) : null,
  ]);
}

/** a ** b elementwise. The gradient wrt b uses log(a) and is only defined for a > 0. */
export function pow(a: Tensor, bv: Operand): Tensor {
  const b = lift(bv, a);
  const { out, shape } = binaryForward('pow', a, b, (x, y) => Math.pow(x, y));
  return record(out, 'pow', [a, b], (g) => [
    a.requiresGrad ? broadcastGrad(g, a, b, shape, a, (x, y) => (y === 0 ? 0 : y * Math.pow(x, y - 1))) : null,
    b.requiresGrad ? broadcastGrad(g, a, b, shape, b, (x, y) => (x > 0 ? Math.pow(x, y) * Math.log(x) : 0)) : null,
  ]);
}

export function maximum(a: Tensor, bv: Operand): Tensor {
  const b = lift(bv, a);
  const { out, shape } = binaryForward('maximum', a, b, (x, y) => (x >= y ? x : y));
  return record(out, 'maximum', [a, b], (g) => [
    a.requiresGrad ? broadcastGrad(g, a, b, shape, a, (x, y) => (x >= y ? 1 : 0)) : null,
    b.requiresGrad ? broadcastGrad(g, a, b, shape, b, (x, y) => (x >= y ? 0 : 1)) : null,
  ]);
}

export function minimum(a: Tensor, bv: Operand): Tensor {
  const b = lift(bv, a);
  const { out, shape } = binaryForward('minimum', a, b, (x, y) => (x <= y ? x : y));
  return record(out, 'minimum', [a, b], (g) => [
    a.requiresGrad ? broadcastGrad(g, a, b, shape, a, (x, y) => (x <= y ? 1 : 0)) : null,
    b.requiresGrad ? broadcastGrad(g, a, b, shape, b, (x, y) => (x <= y ? 0 : 1)) : null,
  ]);
}

// ---------- unary ----------

/**
 * Defines a unary op from its value and its derivative expressed through input x and output y
 * (e.g. exp' = y, sigmoid' = y(1-y)), so no intermediate needs recomputing.
 */
function unary(op: string, f: (x: number) => number, df: (x: number, y: number) => number): (a: Tensor) => Tensor {
  return (a: Tensor) => {
    const o = allocBuf(a.dtype, a.size);
    const x = a.data;
    for (let i = 0; i < o.length; i++) o[i] = f(x[i]);
    const out = new Tensor(o, a.shape);
    return record(out, op, [a], (g) => {
      const r = allocBuf(a.dtype, a.size);
      for (let i = 0; i < r.length; i++) r[i] = g[i] * df(x[i], o[i]);
      return [r];
    });
  };
}

export const neg = unary('neg', (x) => -x, () => -1);
export const exp = unary('exp', Math.exp, (_x, y) => y);
export const log = unary('log', Math.log, (x) => 1 / x);
export const sqrt = unary('sqrt', Math.sqrt, (_x, y) => 0.5 / y);
export const abs = unary('abs', Math.abs, (x) => (x > 0 ? 1 : x < 0 ? -1 : 0));
/** ReLU with dedicated loops: it runs after every conv, so no per-element closure calls. */
export function relu(a: Tensor): Tensor {
  return reluInto(a, false);
}

/**
 * relu(a) written into a's storage. For callers that know nothing will read a's values again,
 * backward passes included (ir/forward.ts): relu's own gradient reads only its output.
 */
export function reluInPlace(a: Tensor): Tensor {
  return reluInto(a, true);
}

function reluInto(a: Tensor, inPlace: boolean): Tensor {
  const x = a.data;
  const f = fastFor(a.size, x);
  let o: Buf;
  if (f) {
    o = f.relu(x as Float32Array, inPlace ? x as Float32Array : undefined);
  } else {
    o = inPlace ? x : allocBuf(a.dtype, a.size);
    for (let i = 0; i < o.length; i++) o[i] = x[i] > 0 ? x[i] : 0;
  }
  return record(new Tensor(o, a.shape), 'relu', [a], (g, overwrite) => {
    // into g when the engine allows it (it holds the only reference), else a fresh array
    const fb = fastFor(a.size, o, g);
    if (fb) return [freshGrad(fb.reluBackward(o as Float32Array, g as Float32Array, overwrite ? g as Float32Array : undefined))];
    const r = overwrite ? g : allocBuf(a.dtype, a.size);
    for (let i = 0; i < r.length; i++) r[i] = o[i] > 0 ? g[i] : 0;
    return [freshGrad(r)];
  });
}
export const relu6 = unary('relu6', (x) => (x > 0 ? (x < 6 ? x : 6) : 0), (x) => (x > 0 && x < 6 ? 1 : 0));
export const sigmoid = unary('sigmoid', (x) => 1 / (1 + Math.exp(-x)), (_x, y) => y * (1 - y));
export const tanh = unary('tanh', Math.tanh, (_x, y) => 1 - y * y);
export const square = unary('square', (x) => x * x, (x) => 2 * x);
/**
 * SiLU / swish: x·sigmoid(x). Its own loops rather than unary(): the metanetwork runs it on [E, H]
 * edge states, where unary's call per element through its function arguments (not inlined, a boxed
 * number each) cost more than the exp. Same expressions, same bits.
 */
export function silu(a: Tensor): Tensor {
  const x = a.data;
  const o = allocBuf(a.dtype, a.size);
  for (let i = 0; i < o.length; i++) o[i] = x[i] / (1 + Math.exp(-x[i]));
  return record(new Tensor(o, a.shape), 'silu', [a], (g) => {
    const r = allocBuf(a.dtype, a.size);
    for (let i = 0; i < r.length; i++) {
      const v = x[i];
      const s = 1 / (1 + Math.exp(-v));
      r[i] = g[i] * (s * (1 + v * (1 - s)));
    }
    return [r];
  });
}

/** Clamps into [lo, hi]; the gradient passes only strictly inside. */
export function clamp(a: Tensor, lo: number, hi: number): Tensor {
  return unary(
    'clamp',
    (x) => (x < lo ? lo : x > hi ? hi : x),
    (x) => (x >= lo && x <= hi ? 1 : 0),
  )(a);
}

export function leakyRelu(a: Tensor, slope = 0.01): Tensor {
  return unary('leakyRelu', (x) => (x > 0 ? x : slope * x), (x) => (x > 0 ? 1 : slope))(a);
}

/** a * s for a plain number s (cheaper than mul with a scalar tensor). */
export function scale(a: Tensor, s: number): Tensor {
  return unary('scale', (x) => x * s, () => s)(a);
}
