/**
 * The engine against PyTorch 1.13 reference values committed in test/fixtures/torch/*.json
 * (written by tools/make-fixtures.py; no Python needed here): conv2d, batch norm, pooling,
 * cross-entropy, and a full training step (forward, loss, gradients, SGD with momentum and weight
 * decay, BN running statistics) of a tiny CNN — each in float64 and float32.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, tensor, type DType } from '../../src/tensor/tensor.js';
import type { Buf } from '../../src/tensor/kernels.js';
import { valueAndGradAux, vjp } from '../../src/tensor/autograd.js';
import { conv2d, type Conv2dOptions } from '../../src/tensor/ops/conv.js';
import { maxPool2d, avgPool2d, globalAvgPool, type Pool2dOptions } from '../../src/tensor/ops/pool.js';
import { batchNorm } from '../../src/tensor/ops/batchnorm.js';
import { relu } from '../../src/tensor/ops/elementwise.js';
import { linear } from '../../src/tensor/ops/matmul.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import '../../src/tensor/backends/ts/kernels.js';

// ---------------------------------------------------------------------------- fixture loading

interface FT {
  shape: number[];
  data: number[];
}

interface Fixture<C> {
  generator: string;
  torch: string;
  cases: C[];
}

/** The repository root (works from test/ under tsx and from dist/test/ when compiled). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('torch-fixtures: package.json not found above the test file');
    dir = up;
  }
  return dir;
}

function load<C>(name: string): C[] {
  const f = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'torch', `${name}.json`), 'utf8')) as Fixture<C>;
  return f.cases;
}

function t(f: FT, dtype: DType): Tensor {
  return tensor(f.data, f.shape, dtype);
}

/** Relative tolerance: 1e-5 as asked for float64; float32 engines differ in summation order. */
const RTOL: Record<DType, number> = { float64: 1e-5, float32: 1e-4 };

/**
 * max_i |a_i − e_i| / max(|e_i|, 1e-3·max|e|): relative per element, with a floor so that entries
 * that are zero up to rounding (e.g. cancellations in BN gradients) are judged against the tensor's scale.
 */
function relErr(actual: Buf | readonly number[], expected: readonly number[]): number {
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  const floor = Math.max(1e-3 * scale, 1e-30);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const err = Math.abs(actual[i] - e) / Math.max(Math.abs(e), floor);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

function close(what: string, actual: Tensor | Buf, expected: FT, dtype: DType): void {
  const data = actual instanceof Tensor ? actual.data : actual;
  if (actual instanceof Tensor) assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(data.length, expected.data.length, `${what}: size`);
  const err = relErr(data, expected.data);
  assert.ok(err <= RTOL[dtype], `${what} (${dtype}): relative error ${err.toExponential(2)} > ${RTOL[dtype]}`);
}

function closeScalar(what: string, actual: number, expected: number, dtype: DType): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-30);
  assert.ok(err <= RTOL[dtype], `${what} (${dtype}): ${actual} vs ${expected}, relative error ${err.toExponential(2)}`);
}

function leaves(...ts: Tensor[]): Tensor[] {
  return ts.map((x) => {
    const l = x.detach();
    l.requiresGrad = true;
    return l;
  });
}

// ---------------------------------------------------------------------------- conv2d

interface ConvCase {
  name: string; dtype: DType;
  options: { stride: number | [number, number]; padding: number | [number, number]; dilation: number | [number, number]; groups: number };
  x: FT; w: FT; b?: FT; y: FT; gy: FT; gx: FT; gw: FT; gb?: FT;
}

for (const c of load<ConvCase>('conv2d')) {
  test(`conv2d ${c.name} ${c.dtype} vs torch`, () => {
    const d = c.dtype;
    const o: Conv2dOptions = c.options;
    const inputs = [t(c.x, d), t(c.w, d), ...(c.b ? [t(c.b, d)] : [])];
    const { value, grads } = vjp((p: Tensor[]) => conv2d(p[0], p[1], p[2] ?? null, o), inputs, t(c.gy, d));
    close('y', value[0], c.y, d);
    close('gx', grads[0], c.gx, d);
    close('gw', grads[1], c.gw, d);
    if (c.gb) close('gb', grads[2], c.gb, d);
  });
}

// ---------------------------------------------------------------------------- batch norm

interface BnCase {
  name: string; dtype: DType; training: boolean; momentum: number; eps: number;
  x: FT; runningMean: FT; runningVar: FT; gamma?: FT; beta?: FT;
  y: FT; gy: FT; gx: FT; runningMeanAfter: FT; runningVarAfter: FT; ggamma?: FT; gbeta?: FT;
}

for (const c of load<BnCase>('batchnorm')) {
  test(`batchNorm ${c.name} ${c.dtype} vs torch`, () => {
    const d = c.dtype;
    const rm = t(c.runningMean, d), rv = t(c.runningVar, d);
    const affine = c.gamma !== undefined && c.beta !== undefined;
    const [x, g, b] = leaves(t(c.x, d), ...(c.gamma && c.beta ? [t(c.gamma, d), t(c.beta, d)] : []));
    const y = batchNorm(x, affine ? g : null, affine ? b : null, rm, rv, { training: c.training, momentum: c.momentum, eps: c.eps });
    close('y', y, c.y, d);
    close('running mean', rm, c.runningMeanAfter, d);
    close('running var', rv, c.runningVarAfter, d);
    const grads = y.gradFn!.backward(t(c.gy, d).data);
    close('gx', grads[0]!, c.gx, d);
    if (c.ggamma && c.gbeta) {
      close('ggamma', grads[1]!, c.ggamma, d);
      close('gbeta', grads[2]!, c.gbeta, d);
    }
  });
}

// ---------------------------------------------------------------------------- pooling

interface PoolCase {
  name: string; dtype: DType; kind: 'max' | 'avg' | 'gap';
  options?: { kernel: number | [number, number]; stride: number | [number, number] | null; padding: number | [number, number] };
  x: FT; y: FT; gy: FT; gx: FT;
}

for (const c of load<PoolCase>('pool')) {
  test(`pool ${c.name} ${c.dtype} vs torch`, () => {
    const d = c.dtype;
    const o: Pool2dOptions | null = c.options
      ? { kernel: c.options.kernel, padding: c.options.padding, ...(c.options.stride !== null ? { stride: c.options.stride } : {}) }
      : null;
    const f = (x: Tensor): Tensor => (c.kind === 'max' ? maxPool2d(x, o!) : c.kind === 'avg' ? avgPool2d(x, o!) : globalAvgPool(x));
    const { value, grads } = vjp(f, t(c.x, d), t(c.gy, d));
    close('y', value[0], c.y, d);
    close('gx', grads, c.gx, d);
  });
}

// ---------------------------------------------------------------------------- cross-entropy

interface CeCase {
  name: string; dtype: DType; logits: FT; labels: number[]; loss: number; grad: FT;
}

for (const c of load<CeCase>('cross_entropy')) {
  test(`crossEntropy ${c.name} ${c.dtype} vs torch`, () => {
    const d = c.dtype;
    const { value, grads } = vjp((z: Tensor) => crossEntropy(z, c.labels), t(c.logits, d), tensor([1], [], d));
    closeScalar('loss', value[0].item(), c.loss, d);
    close('grad', grads, c.grad, d);
  });
}

// ---------------------------------------------------------------------------- tiny CNN training step

const PARAMS = ['conv1.weight', 'bn1.weight', 'bn1.bias', 'conv2.weight', 'bn2.weight', 'bn2.bias', 'fc.weight', 'fc.bias'] as const;
const BUFFERS = ['bn1.running_mean', 'bn1.running_var', 'bn2.running_mean', 'bn2.running_var'] as const;
type ParamName = (typeof PARAMS)[number];
type BufferName = (typeof BUFFERS)[number];
type Params = Record<ParamName, Tensor>;
type Buffers = Record<BufferName, Tensor>;

interface CnnStep {
  logits: FT; loss: number; grads: Record<ParamName, FT>; after: Record<ParamName | BufferName, FT>;
}
interface CnnCase {
  name: string; dtype: DType; lr: number; momentum: number; weightDecay: number;
  x: FT; labels: number[]; params: Record<ParamName | BufferName, FT>; steps: CnnStep[]; evalLogits: FT;
}

/** conv(1→4, 3x3, pad 1) − BN − ReLU − conv(4→8, 3x3, stride 2, pad 1) − BN − ReLU − GAP − linear(8→3). */
function tinyCnn(p: Params, bufs: Buffers, x: Tensor, training: boolean): Tensor {
  let h = conv2d(x, p['conv1.weight'], null, { padding: 1 });
  h = relu(batchNorm(h, p['bn1.weight'], p['bn1.bias'], bufs['bn1.running_mean'], bufs['bn1.running_var'], { training }));
  h = conv2d(h, p['conv2.weight'], null, { stride: 2, padding: 1 });
  h = relu(batchNorm(h, p['bn2.weight'], p['bn2.bias'], bufs['bn2.running_mean'], bufs['bn2.running_var'], { training }));
  return linear(globalAvgPool(h), p['fc.weight'], p['fc.bias']);
}

for (const c of load<CnnCase>('tiny_cnn')) {
  test(`tiny CNN training step ${c.dtype} vs torch (forward, loss, grads, SGD momentum + weight decay, BN buffers)`, () => {
    const d = c.dtype;
    const x = t(c.x, d);
    let params = Object.fromEntries(PARAMS.map((k) => [k, t(c.params[k], d)])) as Params;
    const bufs = Object.fromEntries(BUFFERS.map((k) => [k, t(c.params[k], d)])) as Buffers;
    const momentumBuf = new Map<ParamName, Buf>();
    const step = valueAndGradAux((p: Params) => {
      const logits = tinyCnn(p, bufs, x, true);
      return [crossEntropy(logits, c.labels), logits] as const;
    });
    c.steps.forEach((s, k) => {
      const { value, grads, aux: logits } = step(params);
      close(`step ${k} logits`, logits, s.logits, d);
      closeScalar(`step ${k} loss`, value.item(), s.loss, d);
      for (const name of PARAMS) close(`step ${k} grad ${name}`, grads[name], s.grads[name], d);
      // torch.optim.SGD (dampening 0, no Nesterov): d = g + wd·p; buf = d (first step) or m·buf + d; p −= lr·buf.
      const next = {} as Params;
      for (const name of PARAMS) {
        const p = params[name].data, g = grads[name].data;
        const out = params[name].clone();
        let buf = momentumBuf.get(name);
        const first = buf === undefined;
        if (buf === undefined) {
          buf = out.data.slice().fill(0);
          momentumBuf.set(name, buf);
        }
        for (let i = 0; i < p.length; i++) {
          const di = g[i] + c.weightDecay * p[i];
          buf[i] = first ? di : c.momentum * buf[i] + di;
          out.data[i] = p[i] - c.lr * buf[i];
        }
        next[name] = out;
      }
      params = next;
      for (const name of PARAMS) close(`step ${k} updated ${name}`, params[name], s.after[name], d);
      for (const name of BUFFERS) close(`step ${k} ${name}`, bufs[name], s.after[name], d);
    });
    close('eval logits', tinyCnn(params, bufs, x, false), c.evalLogits, d);
  });
}
