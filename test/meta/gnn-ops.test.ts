/** The fused message-passing ops equal their compositions of engine ops (values and gradients). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/tensor/backends/index.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, allocBuf, randn, type DType } from '../../src/tensor/tensor.js';
import { backward } from '../../src/tensor/autograd.js';
import { gradCheck } from '../../src/tensor/gradcheck.js';
import { clamp, mul, sqrt, square, sub } from '../../src/tensor/ops/elementwise.js';
import { concat, indexSelect } from '../../src/tensor/ops/shape.js';
import { segmentMax, segmentMean, segmentMin } from '../../src/tensor/ops/segment.js';
import { STD_MIN_VAR, gatherMul3, pnaAggregate } from '../../src/meta/gnn-ops.js';

const rng = new Rng(3);

function idx(n: number, hi: number, skip: number[] = []): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = rng.int(hi); while (skip.includes(v));
    out[i] = v;
  }
  return out;
}

function composedGatherMul3(A: Tensor, ia: Int32Array, B: Tensor, ib: Int32Array, C: Tensor, s: Tensor | null): Tensor {
  const cs = s === null ? C : mul(C, s);
  return mul(mul(indexSelect(A, 0, ia), indexSelect(B, 0, ib)), cs);
}

function composedAggregate(m: Tensor, dst: Int32Array, N: number): Tensor {
  const mean = segmentMean(m, dst, N);
  const v = sub(segmentMean(square(m), dst, N), square(mean));
  const st = sqrt(clamp(v, STD_MIN_VAR, Infinity));
  const thr = st.dtype === 'float32' ? Math.fround(Math.sqrt(STD_MIN_VAR)) : Math.sqrt(STD_MIN_VAR);
  const keep = allocBuf(st.dtype, st.size);
  for (let i = 0; i < keep.length; i++) keep[i] = st.data[i] <= thr ? 0 : 1;
  return concat([mean, mul(st, new Tensor(keep, st.shape)), segmentMax(m, dst, N), segmentMin(m, dst, N)], 1);
}

function leaf(t: Tensor): Tensor {
  const l = t.detach();
  l.requiresGrad = true;
  return l;
}

function compare(f: (xs: Tensor[]) => Tensor, g: (xs: Tensor[]) => Tensor, inputs: Tensor[], tol: number, what: string): void {
  const la = inputs.map(leaf), lb = inputs.map(leaf);
  const ya = f(la), yb = g(lb);
  assert.deepEqual(ya.shape, yb.shape);
  for (let i = 0; i < ya.size; i++) assert.ok(Math.abs(ya.data[i] - yb.data[i]) <= tol * Math.max(1, Math.abs(yb.data[i])), `${what}: value ${i}: ${ya.data[i]} vs ${yb.data[i]}`);
  const cot = randn(ya.shape, rng, 1, ya.dtype);
  const ga = backward([ya], [cot.data], la), gb = backward([yb], [cot.data], lb);
  ga.forEach((gi, j) => {
    for (let i = 0; i < gi.length; i++) assert.ok(Math.abs(gi[i] - gb[j][i]) <= tol * Math.max(1, Math.abs(gb[j][i])), `${what}: grad of input ${j}[${i}]: ${gi[i]} vs ${gb[j][i]}`);
  });
}

for (const dtype of ['float64', 'float32'] as DType[]) {
  const tol = dtype === 'float64' ? 1e-13 : 1e-6;
  test(`gatherMul3 = indexSelect·indexSelect·(C⊙s), values and gradients (${dtype})`, () => {
    const N = 7, E = 40, H = 5;
    const A = randn([N, H], rng, 1, dtype), B = randn([N, H], rng, 1, dtype), C = randn([E, H], rng, 1, dtype);
    const ia = idx(E, N), ib = idx(E, N);
    const s = new Tensor(allocBuf(dtype, H).map((_, k) => (k < 2 ? 1 : -1)), [H]);
    for (const sv of [null, s]) {
      compare(([a, b, c]) => gatherMul3(a, ia, b, ib, c, sv), ([a, b, c]) => composedGatherMul3(a, ia, b, ib, c, sv), [A, B, C], tol, `s=${sv ? 'yes' : 'no'}`);
    }
  });

  test(`pnaAggregate = [segmentMean | PyG std | segmentMax | segmentMin] incl. empty, single-edge and constant segments (${dtype})`, () => {
    const N = 8, E = 50, H = 6;
    const dst = idx(E, N, [3, 6]);
    dst[0] = 6; // node 6: exactly one message (var 0 → std 0); node 3: none (all 0)
    const m = randn([E, H], rng, 1, dtype);
    // node 5: a constant column (var = 0 → std floored to 0) and a small-variance column
    const rows5: number[] = [];
    for (let e = 0; e < E; e++) if (dst[e] === 5) rows5.push(e);
    assert.ok(rows5.length >= 2, 'node 5 needs two messages');
    rows5.forEach((e, j) => {
      m.data[e * H] = 0.25;
      m.data[e * H + 1] = 0.25 + (j % 2 === 0 ? 0.01 : -0.01);
    });
    compare(([x]) => pnaAggregate(x, dst, N), ([x]) => composedAggregate(x, dst, N), [m], tol, 'aggregate');
    const out = pnaAggregate(m, dst, N);
    for (let k = 0; k < 4 * H; k++) assert.equal(out.data[3 * 4 * H + k], 0, 'an empty segment aggregates to 0');
    for (let k = 0; k < H; k++) assert.equal(out.data[6 * 4 * H + H + k], 0, 'a single message has std 0');
    assert.equal(out.data[5 * 4 * H + H], 0, 'a constant column has std 0');
  });
}

test('gradcheck of the fused ops (float64)', () => {
  const N = 5, E = 17, H = 3;
  const ia = idx(E, N), ib = idx(E, N), dst = idx(E, N, [2]);
  const s = new Tensor(new Float64Array([1, -1, -1]), [H]);
  const r1 = gradCheck(([a, b, c]) => gatherMul3(a, ia, b, ib, c, s), [randn([N, H], rng, 1, 'float64'), randn([N, H], rng, 1, 'float64'), randn([E, H], rng, 1, 'float64')]);
  assert.ok(r1.maxError < 1e-7, `gatherMul3: ${JSON.stringify(r1.worst)}`);
  const r2 = gradCheck(([x]) => pnaAggregate(x, dst, N), [randn([E, H], rng, 1, 'float64')]);
  assert.ok(r2.maxError < 1e-7, `pnaAggregate: ${JSON.stringify(r2.worst)}`);
});
