/**
 * Resident scopes (wasm backend): inside residentScope() fast-path outputs live in wasm memory and
 * are read in place by the next op. A training step must compute exactly what it computes without
 * the scope (loss, gradients, updated parameters, BN running statistics, bit for bit), the memory
 * must really be used and really be given back, nothing created inside may survive the scope
 * unnoticed, and kernels must never write into a resident input they were not handed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { valueAndGrad } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/softmax.js';
import { withBackend } from '../../src/tensor/registry.js';
import { residentScope } from '../../src/tensor/backends/fast.js';
import { residentStats, wasmAvailable, wasmFastOps as F } from '../../src/tensor/backends/wasm/index.js';
import { nativeAvailable, nativeFastOps, nativePoolStats } from '../../src/tensor/backends/native/index.js';
import { setResidentBudgetMB, setResidentPoison } from '../../src/tensor/backends/resident.js';
import { buildModel } from '../../src/models/index.js';
import { initParams, cloneParams } from '../../src/ir/init.js';
import { forward } from '../../src/ir/forward.js';
import { trainableNames, type ModelGraph, type Params } from '../../src/ir/graph.js';
import { makeOptimizer } from '../../src/train/optim.js';
import { prng, randF32, sameBits } from './kernel-helpers.js';

const skip = !wasmAvailable() && 'wasm backend unavailable';
const inWasm = (a: Float32Array): boolean => a.buffer instanceof SharedArrayBuffer;

let prevPoison = false;
before(() => { prevPoison = setResidentPoison(true); });
after(() => { setResidentPoison(prevPoison); });

/** Two SGD steps of g from p0; each step inside a resident scope when `scoped`. */
function twoSteps(g: ModelGraph, p0: Params, x: Tensor, y: Int32Array, scoped: boolean): { losses: number[]; params: Params; resident: number } {
  const params = cloneParams(p0);
  const names = trainableNames(g);
  const opt = makeOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 });
  const losses: number[] = [];
  let resident = 0;
  for (let s = 0; s < 2; s++) {
    const body = (): number => {
      const trainable: Params = {};
      for (const n of names) trainable[n] = params[n]!;
      const { value, grads } = valueAndGrad((p: Params) => crossEntropy(forward(g, { ...params, ...p }, x, { training: true }), y))(trainable);
      opt.step(params, grads as Record<string, Tensor>, 0.05);
      resident = Math.max(resident, residentStats().bytes, nativePoolStats().inUse);
      return value.data[0]!;
    };
    losses.push(scoped ? residentScope(body) : body());
  }
  return { losses, params, resident };
}

function model(name: string, shape: number[], N: number): { g: ModelGraph; p0: Params; x: Tensor; y: Int32Array } {
  const g = buildModel(name);
  const p0 = initParams(g, 3);
  const rnd = prng(11);
  const x = new Tensor(randF32(N * shape.reduce((a, b) => a * b, 1), rnd), [N, ...shape]);
  const y = Int32Array.from({ length: N }, (_, i) => (i * 7) % 10);
  return { g, p0, x, y };
}

const held = (backend: 'wasm' | 'native'): number => (backend === 'wasm' ? residentStats().bytes : nativePoolStats().inUse);
const BACKENDS = [['wasm', skip], ['native', !nativeAvailable() && 'native backend unavailable']] as const;

for (const [backend, skipBackend] of BACKENDS) {
for (const [name, shape, N] of [['resnet20', [3, 32, 32], 8], ['mobilenetv2', [3, 32, 32], 4], ['smallcnn-res', [1, 14, 14], 16]] as const) {
  test(`${backend}, ${name}: two training steps in resident scopes equal the plain steps bit for bit`, { skip: skipBackend }, () => {
    withBackend(backend, () => {
      const { g, p0, x, y } = model(name, [...shape], N);
      const plain = twoSteps(g, p0, x, y, false);
      const scoped = twoSteps(g, p0, x, y, true);
      assert.ok(scoped.resident > 0, 'the scope kept nothing in backend memory');
      assert.equal(plain.resident, 0);
      assert.deepEqual(scoped.losses, plain.losses);
      for (const k of Object.keys(plain.params)) {
        sameBits(scoped.params[k]!.data as Float32Array, plain.params[k]!.data as Float32Array, `${name} ${k}`);
        assert.ok(!inWasm(scoped.params[k]!.data as Float32Array), `parameter ${k} ended up in wasm memory`);
      }
      assert.equal(held(backend), 0);
    });
  });
}
}

test('a small budget: outputs past it are plain arrays, results unchanged', { skip }, () => {
  withBackend('wasm', () => {
    const { g, p0, x, y } = model('resnet20', [3, 32, 32], 8);
    const plain = twoSteps(g, p0, x, y, false);
    const prev = setResidentBudgetMB(1); // ~a quarter of one step's activations
    try {
      const scoped = twoSteps(g, p0, x, y, true);
      assert.ok(scoped.resident > 0 && scoped.resident <= 2 ** 20, `resident ${scoped.resident}`);
      assert.deepEqual(scoped.losses, plain.losses);
      for (const k of Object.keys(plain.params)) sameBits(scoped.params[k]!.data as Float32Array, plain.params[k]!.data as Float32Array, k);
    } finally {
      setResidentBudgetMB(prev);
    }
  });
});

test('memory comes back: same addresses in the next scope, nested scopes give back only their own', { skip }, () => {
  const rnd = prng(3);
  const a = randF32(5000, rnd);
  let first = -1;
  residentScope(() => {
    const r = F.relu(a);
    assert.ok(inWasm(r));
    first = r.byteOffset;
    assert.equal(residentStats().scopes, 1);
    return 0;
  });
  assert.deepEqual([residentStats().scopes, residentStats().bytes], [0, 0]);
  residentScope(() => {
    const outer = F.relu(a);
    assert.equal(outer.byteOffset, first, 'the second scope did not reuse the first one\'s memory');
    const copy = outer.slice();
    let innerAt = -1;
    residentScope(() => {
      const inner = F.add(outer, outer);
      innerAt = inner.byteOffset;
      assert.ok(innerAt > outer.byteOffset);
      return 0;
    });
    // the inner scope's release (poisoned with NaN) must not touch the outer array
    sameBits(outer, copy, 'outer array after the inner scope');
    assert.equal(F.relu(a).byteOffset, innerAt);
    return 0;
  });
});

test('poison shows an array used after its scope; returning one throws; a throw releases', { skip }, () => {
  const a = randF32(4096, prng(4));
  let leaked: Float32Array | null = null;
  residentScope(() => { leaked = F.relu(a); return 0; });
  assert.ok(Number.isNaN(leaked![0]!), 'poison did not fill the given-back memory');
  assert.throws(() => residentScope(() => F.relu(a)), /residentScope\(\) returned an array/);
  assert.throws(() => residentScope(() => new Tensor(F.relu(a), [4096])), /residentScope\(\) returned an array/);
  assert.equal(residentStats().bytes, 0);
  assert.throws(() => residentScope(() => { F.relu(a); throw new Error('boom'); }), /boom/);
  assert.deepEqual([residentStats().scopes, residentStats().bytes], [0, 0]);
  // a copy may leave
  const kept = residentScope(() => F.relu(a).slice());
  assert.ok(!inWasm(kept) && kept[0] === (a[0]! > 0 ? a[0] : 0));
});

test('fast paths never write into resident inputs they were not handed', { skip }, () => {
  const rnd = prng(9);
  const N = 2, C = 4, HW = 600, n = N * C * HW;
  residentScope(() => {
    const x = F.relu(randF32(n, rnd).map((v) => v + 0.2));
    const dy = F.add(randF32(n, rnd), new Float32Array(n));
    const reluOut = F.relu(randF32(n, rnd));
    const keep = [x, dy, reluOut].map((t) => t.slice());
    assert.ok([x, dy, reluOut].every(inWasm));
    const mean = new Float32Array(C).fill(0.1), invstd = new Float32Array(C).fill(1.5);
    const coefs = (): [Float32Array, Float32Array, Float32Array] => [new Float32Array(C).fill(0.5), new Float32Array(C).fill(-0.01), new Float32Array(C).fill(0.02)];
    const sums = (): [Float32Array, Float32Array] => [new Float32Array(C), new Float32Array(C)];
    // fused ReLU mask, dy not handed over: dy must stay as it was
    const [s1, t1] = sums();
    const dx = F.batchNormBackward(dy, x, mean, invstd, s1, t1, N, C, HW, true, coefs, undefined, reluOut)!;
    assert.ok(inWasm(dx) && dx !== dy);
    [x, dy, reluOut].forEach((t, i) => sameBits(t, keep[i]!, `input ${i} after batch-norm backward`));
    // the same with dy handed over: dx lands in dy, same values
    const [s2, t2] = sums();
    const dx2 = F.batchNormBackward(dy, x, mean, invstd, s2, t2, N, C, HW, true, coefs, dy, reluOut)!;
    assert.equal(dx2, dy);
    sameBits(dx2, dx, 'dx written into dy');
    sameBits(s2, s1, 'sum dy');
    sameBits(t2, t1, 'sum dy·x̂');
    // conv gradients read resident dy and x in place and leave them alone
    const g = { N: 2, C: 4, H: 20, W: 30, O: 4, KH: 3, KW: 3, OH: 20, OW: 30, strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1 };
    const w = randF32(4 * 4 * 9, rnd);
    const xs = x.slice(), ys = F.conv2d(x, w, g), yk = ys.slice();
    assert.ok(inWasm(ys));
    const [gx, gw] = F.conv2dBackward(ys, w, x, true, true, g);
    sameBits(x, xs, 'x after conv backward');
    sameBits(ys, yk, 'dy after conv backward');
    assert.ok(inWasm(gx!) && !inWasm(gw!), 'input gradient resident, filter gradient a plain array');
    const [gx0, gw0] = withBackend('wasm', () => F.conv2dBackward(yk, w, xs, true, true, g));
    sameBits(gx!, gx0!, 'dx from resident vs plain inputs');
    sameBits(gw!, gw0!, 'dw from resident vs plain inputs');
    return 0;
  });
});

test('native: the next scope reuses the arrays of the last one; escapes, poison and throws as for wasm', { skip: !nativeAvailable() && 'native backend unavailable' }, () => {
  const N = nativeFastOps;
  const a = randF32(5000, prng(5));
  let first: Float32Array | null = null;
  N.residentScope!(() => { first = N.relu(a); return 0; });
  assert.ok(Number.isNaN(first![0]!), 'poison did not fill the handed-back array');
  N.residentScope!(() => {
    const again = N.relu(a);
    assert.equal(again, first, 'the pool did not hand out the same array again');
    assert.equal(nativePoolStats().inUse, 1);
    N.residentScope!(() => { assert.notEqual(N.add(a, a), again); return 0; });
    assert.ok(!Number.isNaN(again[0]!), 'the inner scope handed back the outer scope\'s array');
    return 0;
  });
  assert.throws(() => N.residentScope!(() => N.relu(a)), /residentScope\(\) returned an array/);
  assert.throws(() => N.residentScope!(() => { N.relu(a); throw new Error('boom'); }), /boom/);
  assert.deepEqual([nativePoolStats().scopes, nativePoolStats().inUse], [0, 0]);
  // after a scope the pool keeps only the sizes it used
  N.residentScope!(() => { N.relu(randF32(3000, prng(9))); return 0; });
  assert.equal(nativePoolStats().bytes, 3000 * 4, 'sizes the last scope did not use are still pooled');
  // conv filter gradients are never pooled
  const g = { N: 2, C: 4, H: 20, W: 20, O: 4, KH: 3, KW: 3, OH: 20, OW: 20, strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1 };
  N.residentScope!(() => {
    const [, gw] = N.conv2dBackward(randF32(3200, prng(6)), randF32(144, prng(7)), randF32(3200, prng(8)), true, true, g);
    assert.equal(nativePoolStats().inUse, 1, 'only dx is pooled');
    assert.ok(gw!.length === 144);
    return 0;
  });
});

test('train() with the group regularizer, evaluate() and the meta-gradient\'s CE batches: the same with scopes off', { skip }, async () => {
  const { sparseTrain } = await import('../../src/prune/index.js');
  const { evaluate } = await import('../../src/train/evaluate.js');
  const { ceGradient } = await import('../../src/meta/metatrain.js');
  const rnd = prng(21);
  const n = 192;
  const data = {
    name: 'toy', images: randF32(n * 196, rnd), labels: Int32Array.from({ length: n }, (_, i) => (i * 3) % 10),
    n, channels: 1, height: 14, width: 14, numClasses: 10,
  };
  const run = (): { params: Params; acc: number; loss: number; ce: number; grads: Record<string, Tensor> } => withBackend('wasm', () => {
    const g = buildModel('smallcnn');
    const params = initParams(g, 4);
    sparseTrain({
      graph: g, params, train: data,
      config: { epochs: 1, batchSize: 64, lr: 0.05, seed: 1, optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 5e-4 }, schedule: { kind: 'constant' } },
    }, { reg: 0.01 });
    const e = evaluate(g, params, data, 96);
    const c = ceGradient(g, params, data, 2, 64, 5, 0);
    return { params, acc: e.acc, loss: e.loss, ce: c.ce, grads: c.grads };
  });
  const on = run();
  const prev = setResidentBudgetMB(0);
  let off;
  try {
    off = run();
  } finally {
    setResidentBudgetMB(prev);
  }
  for (const k of Object.keys(off.params)) sameBits(on.params[k]!.data as Float32Array, off.params[k]!.data as Float32Array, k);
  assert.deepEqual([on.acc, on.loss, on.ce], [off.acc, off.loss, off.ce]);
  for (const k of Object.keys(off.grads)) {
    sameBits(on.grads[k]!.data as Float32Array, off.grads[k]!.data as Float32Array, `CE gradient ${k}`);
    assert.ok(!inWasm(on.grads[k]!.data as Float32Array), `CE gradient sum ${k} left in wasm memory`);
  }
});
